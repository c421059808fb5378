"""Incremental builds: a vector is reused for any chunk or sentence whose text the live version
already embedded, so only new or changed documents cost embedding time. A changed model or chunking
setting forces a full rebuild (``IndexSettings.vector_fingerprint``).

A build's memory: the vectors exist once, in the two matrices the new version is written from.
Texts are sliced from the documents when needed, never all copied; texts are matched with the
previous version by a 16-byte digest, not kept as dictionary keys; the previous version's vectors
are read from its files block by block, never loaded whole. Peak: about the loaded index's size.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.core.embed.embedding import Embedder
from bot.core.ingest.knowledge import Document
from bot.core.store.faiss_versions import current_version, read_faiss, read_jsonl
from bot.core.store.index import (
    FORMAT_VERSION,
    BuildProgress,
    BuildProgressCallback,
    IndexCorrupt,
    IndexProblem,
    IndexSettings,
    embed_reporting,
)

logger = logging.getLogger(__name__)

_BLOCK = 4096  # rows read or embedded at a time
_NEW, _DUPLICATE = -1, -2  # a row's source besides an old row: embed it, or copy an earlier new row


class Texts:
    """Every chunk and sentence text of the build, by one row number: chunks first, then sentences."""

    def __init__(self, documents: list[Document], chunking) -> None:
        self.by_id = {doc.doc_id: doc.text for doc in documents}
        self.spans = chunking.chunks
        self.sentence_spans = chunking.sentences
        self.chunks = len(chunking.chunks)
        self.total = self.chunks + len(chunking.sentences)

    def __getitem__(self, row: int) -> str:
        span = self.spans[row] if row < self.chunks else self.sentence_spans[row - self.chunks]
        return self.by_id[span.doc_id][span.start : span.end]

    def chunk_texts(self) -> Iterator[str]:
        return (self[row] for row in range(self.chunks))


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class Previous:
    """Where the live version keeps the vector of each text it embedded (rows of its files)."""

    version: Path
    rows: dict[bytes, int]  # digest -> sentence row (>= 0) or chunk row r as -(r + 1)
    sentences: int
    chunks: int


def previous_vectors(index_dir: Path, settings: IndexSettings, dimension: int) -> Previous | None:
    """The live version's text digests, if its vectors can be reused: same model and chunking, and
    its files consistent. Reads its texts and spans, not its vectors."""
    try:
        version = current_version(index_dir)
        if version is None:
            return None
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        built = manifest.get("settings", {})
        if manifest.get("format") != FORMAT_VERSION or manifest.get("dimension") != dimension:
            return None
        if {key: built.get(key) for key in settings.vector_fingerprint()} != settings.vector_fingerprint():
            logger.info("model or chunking settings changed: rebuilding every vector")
            return None
        for name, size in manifest["files"].items():
            if (version / name).stat().st_size != size:
                raise IndexCorrupt(f"{version / name} is damaged (its size is not the manifest's)")
        texts = {record["doc_id"]: record["text"] for record in read_jsonl(version / "documents.jsonl")}
        rows: dict[bytes, int] = {}
        sentences = 0
        for sentences, (doc_id, start, end) in enumerate(read_jsonl(version / "sentences.jsonl"), 1):
            rows.setdefault(_digest(texts[doc_id][start:end]), sentences - 1)
        chunks = 0
        for chunks, (doc_id, start, end, _) in enumerate(read_jsonl(version / "chunks.jsonl"), 1):
            rows.setdefault(_digest(texts[doc_id][start:end]), -chunks)
        stored = np.load(version / "sentences.npy", mmap_mode="r", allow_pickle=False)
        if stored.shape != (sentences, dimension):
            raise IndexCorrupt(f"{version / 'sentences.npy'} does not match its sentences")
        return Previous(version, rows, sentences, chunks)
    except (IndexProblem, OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        logger.warning("not reusing the current index's vectors: %s", exc)
        return None


@dataclass
class Plan:
    source: np.ndarray  # per row: an old sentence row (>= 0), old chunk row r as -(r + 3), _NEW or _DUPLICATE
    first: np.ndarray  # per _DUPLICATE row: the earlier row with the same text
    embedded: int
    reused: int


def plan_vectors(texts: Texts, previous: Previous | None) -> Plan:
    """Where each row's vector comes from; each distinct text is embedded or read once."""
    source = np.full(texts.total, _NEW, dtype=np.int64)
    first = np.full(texts.total, -1, dtype=np.int64)
    seen: dict[bytes, int] = {}
    old = previous.rows if previous else {}
    for row in range(texts.total):
        digest = _digest(texts[row])
        earlier = seen.setdefault(digest, row)
        if earlier != row:
            source[row], first[row] = _DUPLICATE, earlier
            continue
        at = old.get(digest)
        if at is not None:
            source[row] = at if at >= 0 else at - 2  # chunk row r: -(r + 1) -> -(r + 3)
    distinct = len(seen)
    embedded = int(np.count_nonzero(source == _NEW))
    return Plan(source, first, embedded, distinct - embedded)


@dataclass
class Vectors:
    """The new version's vectors; each matrix is dropped (set to None) once written."""

    chunks: np.ndarray | None
    sentences: np.ndarray | None

    def rows(self, rows: np.ndarray, split: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(matrix, its row numbers, positions in ``rows``) for the chunk and the sentence rows."""
        for matrix, mask, offset in ((self.chunks, rows < split, 0), (self.sentences, rows >= split, split)):
            if mask.any():
                yield matrix, rows[mask] - offset, np.flatnonzero(mask)


def fill_vectors(
    plan: Plan,
    texts: Texts,
    previous: Previous | None,
    embedder: Embedder,
    status: BuildProgress,
    progress: BuildProgressCallback | None = None,
) -> Vectors:
    """Every row's vector: copied from the previous version, embedded, or copied from an earlier row
    with the same text. ``progress`` hears ``status`` with the texts embedded so far."""
    dimension = embedder.dimension
    vectors = Vectors(
        np.zeros((texts.chunks, dimension), dtype=np.float32),
        np.zeros((texts.total - texts.chunks, dimension), dtype=np.float32),
    )
    if previous is not None:
        _copy_old(plan, vectors, texts.chunks, previous)
    missing = np.flatnonzero(plan.source == _NEW)
    status = replace(status, texts=len(missing))
    if progress is not None:
        progress(status)
    for start in range(0, len(missing), _BLOCK):
        rows = missing[start : start + _BLOCK]
        embedded = embed_reporting(embedder, [texts[int(row)] for row in rows], status, progress)
        for matrix, at, positions in vectors.rows(rows, texts.chunks):
            matrix[at] = embedded[positions]
        status = replace(status, embedded=start + len(rows))
    duplicates = np.flatnonzero(plan.source == _DUPLICATE)
    for start in range(0, len(duplicates), _BLOCK):
        rows = duplicates[start : start + _BLOCK]
        originals = plan.first[rows]
        block = np.empty((len(rows), dimension), dtype=np.float32)
        for matrix, at, positions in vectors.rows(originals, texts.chunks):
            block[positions] = matrix[at]
        for matrix, at, positions in vectors.rows(rows, texts.chunks):
            matrix[at] = block[positions]
    return vectors


def _copy_old(plan: Plan, vectors: Vectors, split: int, previous: Previous) -> None:
    """Copy reused vectors from the previous version's files, a block of rows at a time, so its
    vectors are never all in memory (nor all mapped: a mapping's pages count while it is open)."""
    sentence_rows = np.flatnonzero(plan.source >= 0)
    chunk_rows = np.flatnonzero(plan.source <= -3)
    if len(sentence_rows):
        old = plan.source[sentence_rows]
        order = np.argsort(old, kind="stable")
        for start in range(0, len(order), _BLOCK):
            picked = order[start : start + _BLOCK]
            stored = np.load(previous.version / "sentences.npy", mmap_mode="r", allow_pickle=False)
            block = np.asarray(stored[old[picked]], dtype=np.float32)
            del stored
            for matrix, at, positions in vectors.rows(sentence_rows[picked], split):
                matrix[at] = block[positions]
    if len(chunk_rows):
        old = -plan.source[chunk_rows] - 3
        index = read_faiss(previous.version / "chunks.faiss", mmap=True)
        if index.ntotal != previous.chunks:
            raise IndexCorrupt(f"{previous.version / 'chunks.faiss'} does not match its chunks")
        order = np.argsort(old, kind="stable")
        for start in range(0, len(order), _BLOCK):
            picked = order[start : start + _BLOCK]
            block = np.stack([index.reconstruct(int(row)) for row in old[picked]])
            for matrix, at, positions in vectors.rows(chunk_rows[picked], split):
                matrix[at] = block[positions]
        del index
