"""Building a FAISS index version: documents loaded and chunked, vectors embedded or reused
(``faiss_reuse``), every file written into ``.tmp-<id>/``, fsynced, renamed to ``v<time>-<id>/`` and
swapped in under the build lock. A build that cannot write (full disk, no permission) fails with one
line saying what to do, and the previous version goes on serving.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import bm25s
import faiss
import numpy as np

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.embed.embedding import Embedder
from bot.core.ingest.chunking import chunk_documents
from bot.core.ingest.knowledge import LoadResult, load_documents
from bot.core.ingest.lexical import Lexicon, tokenize
from bot.core.store.faiss_reuse import Texts, Vectors, fill_vectors, plan_vectors, previous_vectors
from bot.core.store.faiss_versions import build_lock, current_version, fsync_dir, fsync_tree, remove_stale_builds, swap
from bot.core.store.index import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    BuildProgress,
    BuildProgressCallback,
    BuildReport,
    IndexProblem,
    IndexSettings,
    IndexWriteFailed,
    build_manifest,
    compare_documents,
    space_needed,
)

logger = logging.getLogger(__name__)


def build_index(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    progress: BuildProgressCallback | None = None,
) -> BuildReport:
    """Build a new version from ``knowledge_dir`` and make it live; the old one serves until then.
    ``progress`` hears how far embedding is (``BuildProgress``)."""
    started = time.perf_counter()
    if not knowledge_dir.is_dir():  # before the lock, which would leave an index/.lock behind
        raise FileNotFoundError(f"knowledge directory not found: {knowledge_dir}")
    needed: list[int] = []  # the new version's size, once the documents are chunked
    try:
        return _build(
            knowledge_dir, index_dir, embedder, settings, rebuild, max_document_bytes, progress, started, needed
        )
    except OSError as exc:
        raise IndexWriteFailed(write_failure(index_dir, exc, needed[0] if needed else None)) from exc


def disk_full(exc: OSError) -> bool:
    """ENOSPC, a quota, or a short write: numpy says "N requested and M written" with no errno, and
    FAISS "write error … (No space left on device)"."""
    text = str(exc)
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or " requested and " in text


def write_failure(index_dir: Path, exc: OSError, needed: int | None = None) -> str:
    """One line: why the new version could not be written, and what to do."""
    serving = "the previous index is still serving"
    if disk_full(exc):
        size = f"a build needs about {_size(needed)}" if needed else "a build needs room for a whole new version"
        try:
            free = f", {_size(shutil.disk_usage(index_dir).free)} free there"
        except OSError:
            free = ""
        return (
            f"cannot write the new index in {index_dir}: the disk is full ({size}{free}). "
            f"Free some space and run `launchbot index` again; {serving}."
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write to {index_dir}: {exc.strerror.lower()}. Make it writable, or use another index "
            f"directory (--index DIR, or index_dir in launchbot.yaml); {serving}."
        )
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"cannot write the new index in {index_dir}: {exc.strerror or exc}{where}. "
        f"Fix that and run `launchbot index` again; {serving}."
    )


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} bytes"


def _build(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: IndexSettings,
    rebuild: bool,
    max_document_bytes: int,
    progress: BuildProgressCallback | None,
    started: float,
    needed: list[int],
) -> BuildReport:
    with build_lock(index_dir):
        loaded = load_documents(knowledge_dir, max_document_bytes)
        old_docs = _live_documents(index_dir)
        chunking = chunk_documents(loaded.documents, settings.chunk_size, settings.chunk_overlap)
        needed.append(space_needed(loaded.documents, len(chunking.chunks), len(chunking.sentences), embedder.dimension))
        texts = Texts(loaded.documents, chunking)
        previous = None if rebuild else previous_vectors(index_dir, settings, embedder.dimension)
        plan = plan_vectors(texts, previous)
        status = BuildProgress(len(loaded.documents), len(chunking.chunks), len(chunking.sentences), plan.embedded)
        vectors = fill_vectors(plan, texts, previous, embedder, status, progress)
        version = _write_version(index_dir, loaded, chunking, texts, vectors, embedder, settings)
        swap(index_dir, version)
    changes = compare_documents(old_docs, loaded)
    report = BuildReport(
        path=version,
        added=changes.added,
        updated=changes.updated,
        removed=changes.removed,
        unchanged=sorted({doc.doc_id for doc in loaded.documents} - set(changes.added) - set(changes.updated)),
        errors=loaded.errors,
        chunks=len(chunking.chunks),
        sentences=len(chunking.sentences),
        embedded=plan.embedded,
        reused=plan.reused,
        seconds=time.perf_counter() - started,
        full_rebuild=previous is None,
        knowledge_dir=knowledge_dir,
    )
    logger.info("%s", report.summary())
    return report


def _live_documents(index_dir: Path) -> dict[str, dict]:
    """The documents of the live index as its manifest lists them (empty if there is none or it is
    unreadable): what a build reports its changes against, whether or not it reuses vectors."""
    try:
        version = current_version(index_dir)
        if version is None:
            return {}
        return json.loads((version / "manifest.json").read_text(encoding="utf-8"))["documents"]
    except (IndexProblem, OSError, ValueError, KeyError, TypeError):
        return {}


def make_faiss_index(vectors: np.ndarray, hnsw_threshold: int) -> faiss.Index:
    """Exact inner product for small corpora; HNSW above ``hnsw_threshold`` vectors."""
    dimension = vectors.shape[1]
    if len(vectors) > hnsw_threshold:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(vectors)
    return index


def _write_version(
    index_dir: Path,
    loaded: LoadResult,
    chunking,
    texts: Texts,
    vectors: Vectors,
    embedder: Embedder,
    settings: IndexSettings,
) -> Path:
    remove_stale_builds(index_dir)
    build_id = uuid.uuid4().hex[:8]
    tmp = index_dir / f".tmp-{build_id}"
    tmp.mkdir()
    try:
        _write_jsonl(tmp / "documents.jsonl", (asdict(doc) for doc in loaded.documents))
        _write_jsonl(tmp / "sentences.jsonl", ([s.doc_id, s.start, s.end] for s in chunking.sentences))
        _write_jsonl(tmp / "chunks.jsonl", ([c.doc_id, c.start, c.end, list(c.sentences)] for c in chunking.chunks))
        index_type = _write_vectors(tmp, vectors, settings.hnsw_threshold)
        # Tokens are interned: 100k chunks hold ~10M tokens, but only a few hundred thousand distinct.
        tokenized = [list(map(sys.intern, tokenize(text))) for text in texts.chunk_texts()]
        lexicon = Lexicon.build(tokenized)
        (tmp / "lexicon.json").write_text(
            json.dumps({"documents": lexicon.documents, "df": lexicon.df}, ensure_ascii=False), encoding="utf-8"
        )
        if tokenized:
            bm25 = bm25s.BM25()
            bm25.index(tokenized, show_progress=False)
            del tokenized
            bm25.save(str(tmp / "bm25"), show_progress=False)
        _write_manifest(tmp, loaded, chunking, embedder, settings, index_type)
        fsync_tree(tmp)
        version = index_dir / f"v{time.time_ns()}-{build_id}"
        os.rename(tmp, version)
        fsync_dir(index_dir)
        return version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_vectors(tmp: Path, vectors: Vectors, hnsw_threshold: int) -> str:
    """Write and drop each matrix in turn, so at most one matrix and its FAISS copy coexist."""
    faiss_index = make_faiss_index(vectors.chunks, hnsw_threshold)
    vectors.chunks = None
    index_type = "hnsw" if hasattr(faiss_index, "hnsw") else "flat"
    _write_faiss(faiss_index, tmp / "chunks.faiss")
    del faiss_index
    np.save(tmp / "sentences.npy", vectors.sentences)
    faiss_index = make_faiss_index(vectors.sentences, hnsw_threshold)
    vectors.sentences = None
    _write_faiss(faiss_index, tmp / "sentences.faiss")
    return index_type


def _write_faiss(index: faiss.Index, path: Path) -> None:
    """FAISS reports a failed write as a RuntimeError; it is an OSError like any other here."""
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        raise OSError(errno.ENOSPC if "No space left" in str(exc) else errno.EIO, str(exc).strip(), str(path)) from exc


def _write_manifest(
    tmp: Path, loaded: LoadResult, chunking, embedder: Embedder, settings: IndexSettings, index_type: str
) -> None:
    files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = build_manifest(loaded, chunking, embedder, settings, index_type=index_type, files=files)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
