"""The on-disk index: FAISS over chunk vectors, sentence vectors, BM25, and the texts they index.

Layout under the index directory::

    CURRENT            name of the live version directory (replaced atomically)
    v<time>-<id>/      one complete, immutable index version
    .tmp-<id>/         a build in progress (a crash leaves it behind; the next build removes it)
    .lock              held while a build runs, so two builds never race

A build writes a whole new version beside the old one and then swaps ``CURRENT`` with a rename, so
readers see either the old index or the new one, never a mix. Builds are incremental: a vector is
reused for any chunk or sentence whose text the previous version already embedded, so only new or
changed documents cost embedding time. A changed model or chunking setting forces a full rebuild.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from bot.core.chunking import Chunk, Sentence, chunk_documents
from bot.core.embedding import Embedder
from bot.core.knowledge import Document, LoadError, LoadResult, load_documents
from bot.core.lexical import VERSION as TOKENIZER_VERSION
from bot.core.lexical import Lexicon, tokenize, tokenize_many

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

FORMAT_VERSION = 2
CHUNKER_VERSION = 3  # bump when chunking.py changes what it produces
POINTER = "CURRENT"
KEEP_VERSIONS = 2
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
    """The settings an index is built with. A change of model or chunking forces a full rebuild; a
    new tokenizer only makes the index stale (the lexical side is rebuilt by every build anyway)."""

    model: str
    chunk_size: int
    chunk_overlap: int
    hnsw_threshold: int = 50_000

    def vector_fingerprint(self) -> dict:
        return {
            "model": self.model,
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
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {pointer}: {exc}. Run `launchbot index --rebuild`.") from None
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} names no valid version ({name!r}). Run `launchbot index --rebuild`.")
    return index_dir / name


def load_index(index_dir: Path) -> KnowledgeIndex:
    """Load the live version. Raises IndexMissing or IndexCorrupt with what to run."""
    version = current_version(index_dir)
    if version is None:
        raise IndexMissing(f"no index in {index_dir}. Run `launchbot index` to build it.")
    if not version.is_dir():
        raise IndexCorrupt(
            f"{index_dir / POINTER} points at {version.name}, which does not exist. Run `launchbot index --rebuild`."
        )
    try:
        return _load_version(version)
    except IndexProblem:
        raise
    except Exception as exc:  # any unreadable file means the same thing to the user
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


def _read_faiss(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
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


def build_index(
    knowledge_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    max_document_bytes: int = 2_000_000,
    progress: bool = False,
) -> BuildReport:
    """Build a new version from ``knowledge_dir`` and make it live; the old one serves until then."""
    started = time.perf_counter()
    with build_lock(index_dir):
        loaded = load_documents(knowledge_dir, max_document_bytes)
        previous = _previous_for_reuse(index_dir, settings, rebuild)
        old_docs = _live_documents(index_dir)
        chunking = chunk_documents(loaded.documents, settings.chunk_size, settings.chunk_overlap)
        cache = _vector_cache(previous) if previous else {}
        texts = _texts(loaded.documents, chunking)
        unique = set(texts.chunks) | set(texts.sentences)
        reused = len(unique & cache.keys())
        embedded = _embed_missing(unique, cache, embedder, progress)
        chunk_vectors = _matrix(texts.chunks, cache, embedder.dimension)
        sentence_vectors = _matrix(texts.sentences, cache, embedder.dimension)
        version = _write_version(
            index_dir, loaded, chunking, texts, chunk_vectors, sentence_vectors, embedder, settings
        )
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
        embedded=embedded,
        reused=reused,
        seconds=time.perf_counter() - started,
        full_rebuild=previous is None,
    )
    logger.info("%s", report.summary())
    return report


@dataclass
class _Texts:
    chunks: list[str]
    sentences: list[str]


def _texts(documents: list[Document], chunking) -> _Texts:
    by_id = {doc.doc_id: doc.text for doc in documents}
    return _Texts(
        chunks=[by_id[c.doc_id][c.start : c.end] for c in chunking.chunks],
        sentences=[by_id[s.doc_id][s.start : s.end] for s in chunking.sentences],
    )


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


def _previous_for_reuse(index_dir: Path, settings: IndexSettings, rebuild: bool) -> KnowledgeIndex | None:
    """The live index if its vectors can be reused: same model and chunking, and readable."""
    if rebuild:
        return None
    try:
        previous = load_index(index_dir)
    except IndexMissing:
        return None
    except IndexCorrupt as exc:
        logger.warning("not reusing the current index: %s", exc)
        return None
    built = previous.manifest.get("settings", {})
    if {key: built.get(key) for key in settings.vector_fingerprint()} != settings.vector_fingerprint():
        logger.info("model or chunking settings changed: rebuilding every vector")
        return None
    return previous


def _vector_cache(previous: KnowledgeIndex) -> dict[str, np.ndarray]:
    cache: dict[str, np.ndarray] = {}
    if previous.chunks:
        vectors = previous.chunk_vectors.reconstruct_n(0, previous.chunk_vectors.ntotal)
        for chunk_id, vector in enumerate(vectors):
            cache[previous.chunk_text(chunk_id)] = vector
    for sentence_id, vector in enumerate(previous.sentence_vectors):
        cache.setdefault(previous.sentence_text(sentence_id), vector)
    return cache


def _embed_missing(texts: set[str], cache: dict[str, np.ndarray], embedder: Embedder, progress: bool) -> int:
    """Embed the texts the cache lacks (one batched call) and add them; returns how many."""
    missing = sorted(texts - cache.keys())
    if missing:
        for text, vector in zip(missing, embedder.encode(missing, progress=progress), strict=True):
            cache[text] = vector
    return len(missing)


def _matrix(texts: list[str], cache: dict[str, np.ndarray], dimension: int) -> np.ndarray:
    matrix = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, text in enumerate(texts):
        matrix[row] = cache[text]
    return matrix


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
    chunk_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
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
        faiss_index = make_faiss_index(chunk_vectors, settings.hnsw_threshold)
        faiss.write_index(faiss_index, str(tmp / "chunks.faiss"))
        np.save(tmp / "sentences.npy", sentence_vectors)
        faiss.write_index(make_faiss_index(sentence_vectors, settings.hnsw_threshold), str(tmp / "sentences.faiss"))
        tokenized = tokenize_many(texts.chunks)
        lexicon = Lexicon.build(tokenized)
        (tmp / "lexicon.json").write_text(
            json.dumps({"documents": lexicon.documents, "df": lexicon.df}, ensure_ascii=False), encoding="utf-8"
        )
        if tokenized:
            bm25 = bm25s.BM25()
            bm25.index(tokenized, show_progress=False)
            bm25.save(str(tmp / "bm25"), show_progress=False)
        _write_manifest(tmp, loaded, chunking, embedder, settings, faiss_index)
        _fsync_tree(tmp)
        version = index_dir / f"v{time.time_ns()}-{build_id}"
        os.rename(tmp, version)
        _fsync_dir(index_dir)
        return version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_manifest(
    tmp: Path, loaded: LoadResult, chunking, embedder: Embedder, settings: IndexSettings, faiss_index: faiss.Index
) -> None:
    per_doc: dict[str, int] = {}
    for chunk in chunking.chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = {
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": embedder.name,
        "dimension": embedder.dimension,
        "settings": settings.fingerprint(),
        "index_type": "hnsw" if hasattr(faiss_index, "hnsw") else "flat",
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
        "files": files,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")


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
    os.replace(pointer_tmp, index_dir / POINTER)
    _fsync_dir(index_dir)
    versions = sorted((p for p in index_dir.glob("v*") if p.is_dir()), key=lambda p: p.name)
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
