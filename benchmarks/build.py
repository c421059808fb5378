"""Index build throughput and incremental reindex, on real SQuAD text embedded for real.

Throughput is chunks per second of a whole ``build_index`` (chunking, embedding chunks *and*
sentences, BM25, writing, fsync) against the floor: sentence-transformers' own ``model.encode`` of
the same chunk texts (an even sample of them), nothing else. The incremental figure changes one
document of the corpus and reindexes, as a fraction of the full build.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, Results, timed
from benchmarks.corpora import Squad, write_squad_documents
from bot.config import Settings
from bot.core.embed.embedding import Embedder
from bot.core.store.faiss_build import build_index
from bot.core.store.faiss_store import load_index
from bot.core.store.index import BuildReport, IndexSettings

logger = logging.getLogger(__name__)

FLOOR_SAMPLE = 400  # chunks the floor encodes: a rate needs no more, and torch is slow


def sample(count: int, size: int) -> list[int]:
    """An even spread of ``size`` ids out of ``count`` (deterministic, so runs compare)."""
    return sorted({int(i) for i in np.linspace(0, count - 1, num=min(size, count))}) if count else []


@dataclass
class BuiltCorpus:
    settings: Settings
    questions: list[str]


def build_throughput(
    results: Results, workdir: Path, squad: Squad, embedder: Embedder, floor_model, documents: int
) -> BuiltCorpus:
    settings = Settings(knowledge_dir=workdir / "knowledge", index_dir=workdir / "index")
    questions = write_squad_documents(squad, settings.knowledge_dir, documents)
    full = _build(settings, embedder, rebuild=True)
    index = load_index(settings.index_dir)
    texts = [index.chunk_text(i) for i in sample(len(index.chunks), FLOOR_SAMPLE)]
    raw = len(texts) / timed(lambda: embedder.encode_passages(texts))
    floor = len(texts) / timed(
        lambda: floor_model.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True)
    )
    backend = embedder.backend
    results.add(
        Figure(
            "build",
            "full index build",
            full.chunks / full.seconds,
            floor,
            "chunks/s",
            "torch model.encode of the chunks",
            "ratio ≥ 0.9",
            full.chunks / full.seconds >= 0.9 * floor,
            f"{backend} builds; {documents} SQuAD documents, {full.chunks} chunks + "
            f"{full.sentences} sentences embedded in {full.seconds:.1f} s",
        )
    )
    results.add(
        Figure(
            "build",
            f"raw encode of the chunks ({backend})",
            raw,
            floor,
            "chunks/s",
            "torch model.encode of the chunks",
            note=f"batch size {settings.batch_size}, both on the same {len(texts)} chunks",
        )
    )
    _change_one_document(settings.knowledge_dir)
    incremental = _build(settings, embedder, rebuild=False)
    results.add(
        Figure(
            "build",
            f"incremental reindex, 1 of {documents} documents changed",
            incremental.seconds,
            full.seconds,
            "s",
            "full build",
            "ratio ≤ 0.05",
            incremental.seconds <= 0.05 * full.seconds,
            f"embedded {incremental.embedded} texts, reused {incremental.reused}",
        )
    )
    return BuiltCorpus(settings, questions)


def _build(settings: Settings, embedder: Embedder, rebuild: bool) -> BuildReport:
    index_settings = IndexSettings(
        embedder.name, settings.chunk_size, settings.chunk_overlap, settings.hnsw_threshold, embedder.vector_source
    )
    return build_index(
        settings.knowledge_dir,
        settings.index_dir,
        embedder,
        index_settings,
        rebuild=rebuild,
        max_document_bytes=settings.max_document_bytes,
    )


def _change_one_document(knowledge: Path) -> None:
    """Append a sentence to one document: one new sentence, and a changed last chunk, to embed."""
    document = min(knowledge.glob("*.md"))
    text = document.read_text(encoding="utf-8").rstrip("\n")
    document.write_text(text + " This sentence was added to measure an incremental reindex.\n", encoding="utf-8")
