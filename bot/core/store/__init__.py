"""Where the index lives: ``faiss`` (files under ``index_dir``, the default) or ``postgres`` (one
database every bot process shares, ``bot/core/store/postgres_store.py``). Both give the engine the same four
things: load the live version, build a new one, name the live one, and tell when it changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from bot.config import MAX_DOCUMENT_BYTES, Settings
from bot.core.embed.embedding import Embedder
from bot.core.store.faiss_store import (
    BuildReport,
    IndexSettings,
    KnowledgeIndex,
    build_index,
    current_version,
    load_index,
)

logger = logging.getLogger(__name__)


class FaissStore:
    """Today's on-disk versions; another process's build is noticed by polling ``current_version``."""

    shared = False  # one machine: a stale index is rebuilt by whoever opens it

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def load(self) -> KnowledgeIndex:
        return load_index(self.index_dir)

    def current_version(self) -> Path | None:
        return current_version(self.index_dir)

    def build(
        self,
        knowledge_dir: Path,
        embedder: Embedder,
        settings: IndexSettings,
        *,
        rebuild: bool = False,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        progress: bool = False,
    ) -> BuildReport:
        return build_index(
            knowledge_dir,
            self.index_dir,
            embedder,
            settings,
            rebuild=rebuild,
            max_document_bytes=max_document_bytes,
            progress=progress,
        )

    def watch(self, on_change: Callable[[], object], stop: threading.Event | None = None) -> None:
        """Nothing to listen to: front ends poll ``Engine.reload_if_changed``."""


def index_store(settings: Settings):
    """The store the settings name (``index_backend``)."""
    if settings.index_backend == "postgres":
        from bot.core.store.postgres_store import PostgresIndexStore

        return PostgresIndexStore(settings.database_url.get_secret_value(), lexical=settings.postgres_lexical)
    return FaissStore(settings.index_dir)
