"""Each embedding model's own costs: index builds against raw encoding, answers against query encoding.

For every known model (all-MiniLM-L6-v2 and multilingual-e5-small, each on its ``auto`` backend):
- the launch knowledge base, built from scratch by ``Engine.reindex`` (goal: under 15 s), against
  ``encode_passages`` of exactly the texts the build embeds (its unique chunks and sentences);
- ``documents`` SQuAD documents built the same way, against raw encoding of the same texts: what the
  build adds to the encoding (chunking, BM25, writing, fsync) is the ratio's excess over 1;
- warm ``Engine.answer`` p50 / p99 on the launch corpus (the dev, hard and Hindi question sets),
  against the model's own ``encode_query`` of the same questions, interleaved question by question.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import yaml

from benchmarks.common import REPO, Figure, Results, percentile_ms
from benchmarks.corpora import Squad, write_squad_documents
from bot.config import Settings
from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.core.store.faiss_store import load_index

logger = logging.getLogger(__name__)

MODELS = ("all-MiniLM-L6-v2", "multilingual-e5-small")
QUESTION_SETS = (
    REPO / "tests" / "data" / "dev_qa.yaml",
    REPO / "tests" / "data" / "hindi_qa.yaml",
    REPO.parent / "shared" / "eval" / "launch_hard.yaml",
)
LAUNCH_BUILD_GOAL_SECONDS = 15.0


def launch_questions() -> list[str]:
    questions = []
    for path in QUESTION_SETS:
        if path.is_file():
            questions += [item["question"] for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]]
    return questions


def model_costs(results: Results, workdir: Path, squad: Squad, documents: int, repeats: int) -> None:
    for model in MODELS:
        embedder = Embedder(model)
        embedder.encode_query("warm-up")
        section = f"model {model} ({embedder.backend})"
        launch = _launch_settings(workdir / model / "launch", model)
        engine = _build(results, section, "launch knowledge base", launch, embedder, LAUNCH_BUILD_GOAL_SECONDS)
        _answers(results, section, engine, launch_questions(), repeats)
        if documents:
            corpus = Settings(
                knowledge_dir=workdir / model / "squad" / "knowledge",
                index_dir=workdir / model / "squad" / "index",
                model=model,
            )
            write_squad_documents(squad, corpus.knowledge_dir, documents)
            _build(results, section, f"{documents} SQuAD documents", corpus, embedder, None)


def _launch_settings(root: Path, model: str) -> Settings:
    shutil.copytree(REPO / "knowledge", root / "knowledge")
    return Settings(knowledge_dir=root / "knowledge", index_dir=root / "index", model=model)


def _build(
    results: Results, section: str, what: str, settings: Settings, embedder: Embedder, goal: float | None
) -> Engine:
    engine = Engine(settings, embedder)
    report = engine.reindex(rebuild=True)
    index = load_index(settings.index_dir)
    texts = sorted(
        {index.chunk_text(i) for i in range(len(index.chunks))}
        | {index.sentence_text(i) for i in range(len(index.sentences))}
    )
    started = time.perf_counter()
    embedder.encode_passages(texts)
    raw = time.perf_counter() - started
    results.add(
        Figure(
            section,
            f"full build, {what}",
            report.seconds,
            raw,
            "s",
            "raw encode_passages of the same texts",
            f"< {goal:g} s" if goal else "",
            report.seconds < goal if goal else None,
            f"{report.chunks} chunks + {report.sentences} sentences, {len(texts)} distinct texts embedded",
        )
    )
    return engine


def _answers(results: Results, section: str, engine: Engine, questions: list[str], repeats: int) -> None:
    for question in questions[:10]:  # warm caches and lazy paths
        engine.answer(question)
    answers, encodes = [], []
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            engine.answer(question)
            answers.append(time.perf_counter() - started)
            started = time.perf_counter()
            engine.embedder.encode_query(question)
            encodes.append(time.perf_counter() - started)
    for q in (50, 99):
        results.add(
            Figure(
                section,
                f"answer p{q}, launch corpus",
                percentile_ms(answers, q),
                percentile_ms(encodes, q),
                "ms",
                f"the model's query encoding p{q}",
                note=f"{len(answers)} answers ({len(questions)} English and Hindi questions x {repeats})",
            )
        )
