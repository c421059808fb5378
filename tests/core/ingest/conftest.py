"""What the ingest tests share: a polite fetcher for the test site (tests/newsroom.py, on 127.0.0.1),
an importer into an empty knowledge directory, and an engine over the hand-written knowledge base."""

from __future__ import annotations

import pytest

from bot.core.engine import Engine
from bot.core.ingest.fetch import Fetcher
from bot.core.ingest.importer import Importer
from tests.helpers import TEST_FETCH, CountingEmbedder, make_settings


@pytest.fixture
def fetcher() -> Fetcher:
    fetcher = Fetcher(TEST_FETCH)
    yield fetcher
    fetcher.close()


@pytest.fixture
def importer(tmp_path, fetcher) -> Importer:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    return Importer(knowledge, fetcher)


@pytest.fixture
def library(tmp_path, embedder) -> Engine:
    """An engine over a copy of the hand-written knowledge base, counting what it embeds."""
    engine = Engine(make_settings(tmp_path), CountingEmbedder(embedder))
    engine.open()
    return engine
