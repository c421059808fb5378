"""Shared fixtures: the real model, loaded once per session, and engines over copies of the articles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.config import Settings
from bot.core.embedding import Embedder
from bot.core.engine import Engine
from tests.helpers import make_settings


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings: Settings, embedder: Embedder) -> Engine:
    engine = Engine(settings, embedder)
    engine.open()
    return engine


@pytest.fixture(scope="module")
def launch_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    """One read-only engine over the launch articles for tests that only ask questions."""
    engine = Engine(make_settings(tmp_path_factory.mktemp("launch")), embedder)
    engine.open()
    return engine
