"""Where the index lives: ``faiss`` (files under ``index_dir``, the default: ``faiss_store``) or
``postgres`` (one database every bot process shares: ``postgres_store``). Both give the engine the
same four things, ``IndexStore``: load the live version, build a new one, name the live one, and tell
when it changes. What both hand to answering, ``index.KnowledgeIndex``, is the same too.

May import ``embed`` and ``ingest``; never ``answering`` or the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from bot.core.embed.embedding import Embedder
from bot.core.store.faiss_store import FaissStore
from bot.core.store.index import BuildProgressCallback, BuildReport, IndexSettings, KnowledgeIndex


class IndexStore(Protocol):
    shared: bool  # True: every process of several machines opens it, so none rebuilds a stale one alone

    def load(self) -> KnowledgeIndex:
        """The live version (IndexMissing / IndexCorrupt if it cannot be read)."""

    def current_version(self) -> Path | None:
        """The live version's name, None when none was ever built."""

    def build(
        self,
        knowledge_dir: Path,
        embedder: Embedder,
        settings: IndexSettings,
        *,
        rebuild: bool = False,
        max_document_bytes: int = ...,
        progress: BuildProgressCallback | None = None,
    ) -> BuildReport:
        """Build a new version and make it live; the old one serves until then (IndexBusy if a
        build is already running)."""

    def watch(self, on_change: Callable[[], object], stop: threading.Event | None = None) -> object:
        """Call ``on_change`` when another process swaps a version in, where the store can tell."""

    def ping(self) -> None:
        """Raise unless where the index lives answers (``/readyz``)."""

    def close(self) -> None:
        """Let go of connections and listeners."""


def index_store(settings: Settings) -> IndexStore:
    """The store the settings name (``index_backend``)."""
    if settings.index_backend == "postgres":
        from bot.core.store.postgres_store import PostgresIndexStore

        url, workers = settings.database_url.get_secret_value(), settings.chat.answer_workers
        return PostgresIndexStore(url, lexical=settings.postgres_lexical, connections=workers + 1)
    return FaissStore(settings.index_dir)
