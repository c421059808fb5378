"""The FAISS store (``index_backend: faiss``, the default): index versions as files under
``index_dir`` (layout: ``faiss_versions``), FAISS over chunk vectors, sentence vectors, BM25, and the
texts they index.

A build (``faiss_build``) writes a whole new version beside the old one and then swaps ``CURRENT``
with a rename, so readers see either the old index or the new one, never a mix. A reader that finds
the version it was pointed at already removed (builds overtook it) reads ``CURRENT`` again, once.
Another process's build is noticed by polling ``current_version``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import bm25s
import numpy as np

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.embed.embedding import Embedder
from bot.core.ingest.chunking import Chunk, Sentence
from bot.core.ingest.knowledge import Document
from bot.core.ingest.lexical import Lexicon
from bot.core.store.faiss_build import build_index
from bot.core.store.faiss_versions import POINTER, current_version, read_faiss, read_jsonl
from bot.core.store.index import (
    FORMAT_VERSION,
    BuildProgressCallback,
    BuildReport,
    IndexCorrupt,
    IndexMissing,
    IndexOutdated,
    IndexProblem,
    IndexSettings,
    KnowledgeIndex,
)

logger = logging.getLogger(__name__)


class FaissStore:
    """Index versions as files under ``index_dir``; another process's build is noticed by polling
    ``current_version``."""

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
        progress: BuildProgressCallback | None = None,
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

    def ping(self) -> None:
        """Files on this machine: nothing to reach."""

    def close(self) -> None:
        """Nothing held open."""


class _VersionGone(Exception):
    """The version CURRENT named was removed while it was being read (newer builds overtook it)."""


def load_index(index_dir: Path) -> KnowledgeIndex:
    """Load the live version. Raises IndexMissing or IndexCorrupt with what to run."""
    version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}. Run `launchbot index` to build it.")
    try:
        return _load_checked(version)
    except _VersionGone:
        newer = current_version(index_dir)  # builds overtook this reader: read the pointer again, once
        if newer is not None and newer != version:
            logger.info("index version %s was replaced while loading; loading %s", version.name, newer.name)
            try:
                return _load_checked(newer)
            except _VersionGone:
                pass
        raise IndexCorrupt(
            f"{index_dir / POINTER} points at {version.name}, which does not exist. Run `launchbot index --rebuild`."
        ) from None


def _load_checked(version: Path) -> KnowledgeIndex:
    if not version.is_dir():
        raise _VersionGone(version)
    try:
        return _load_version(version)
    except IndexProblem:
        raise
    except Exception as exc:  # any unreadable file means the same thing to the user
        if isinstance(exc, FileNotFoundError) and not version.is_dir():
            raise _VersionGone(version) from exc
        raise IndexCorrupt(
            f"index {version} is corrupt ({type(exc).__name__}: {exc}). Run `launchbot index --rebuild`."
        ) from exc


def _load_version(version: Path) -> KnowledgeIndex:
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexOutdated(
            f"index {version} has format {manifest.get('format')!r}, this launchbot reads "
            f"{FORMAT_VERSION}. Run `launchbot index --rebuild`."
        )
    for name, size in manifest["files"].items():
        actual = (version / name).stat().st_size
        if actual != size:
            raise IndexCorrupt(
                f"{version / name} is {actual} bytes, the manifest says {size}: "
                "the file is damaged. Run `launchbot index --rebuild`."
            )
    documents = {record["doc_id"]: Document(**record) for record in read_jsonl(version / "documents.jsonl")}
    sentences = [Sentence(*row) for row in read_jsonl(version / "sentences.jsonl")]
    chunks = [Chunk(row[0], row[1], row[2], tuple(row[3])) for row in read_jsonl(version / "chunks.jsonl")]
    chunk_vectors = read_faiss(version / "chunks.faiss")
    sentence_index = read_faiss(version / "sentences.faiss")
    sentence_vectors = np.load(version / "sentences.npy", allow_pickle=False)
    lexicon_data = json.loads((version / "lexicon.json").read_text(encoding="utf-8"))
    bm25 = bm25s.BM25.load(str(version / "bm25"), show_progress=False) if chunks else bm25s.BM25()
    dimension = manifest["dimension"]
    if chunk_vectors.ntotal != len(chunks) or chunk_vectors.d != dimension:
        raise IndexCorrupt(
            f"{version / 'chunks.faiss'} holds {chunk_vectors.ntotal} vectors of "
            f"{chunk_vectors.d} dims, expected {len(chunks)} of {dimension}. "
            "Run `launchbot index --rebuild`."
        )
    if sentence_vectors.shape != (len(sentences), dimension) or sentence_index.ntotal != len(sentences):
        raise IndexCorrupt(
            f"{version / 'sentences.npy'} has shape {sentence_vectors.shape}, expected "
            f"({len(sentences)}, {dimension}). Run `launchbot index --rebuild`."
        )
    return KnowledgeIndex(
        version,
        manifest,
        documents,
        chunks,
        sentences,
        chunk_vectors,
        sentence_vectors,
        sentence_index,
        bm25,
        Lexicon(lexicon_data["df"], lexicon_data["documents"]),
    )
