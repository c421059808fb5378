"""Each embedding model's own costs: index builds against raw encoding, answers against query encoding.

For every known model (all-MiniLM-L6-v2 and multilingual-e5-small, each on its ``auto`` backend):
- the launch knowledge base, built from scratch by ``Engine.reindex`` (goal: under 15 s), against
  ``encode_passages`` of exactly the texts the build embeds (its unique chunks and sentences);
- ``documents`` SQuAD documents built the same way, against raw encoding of the same texts: what the
  build adds to the encoding (chunking, BM25, writing, fsync) is the ratio's excess over 1;
- warm ``Engine.answer`` p50 / p99 on the launch corpus (the dev, hard and Hindi question sets),
  against the two model calls it cannot skip, interleaved question by question: the model's own
  ``encode_query`` of the question, plus the reader's forward pass over the same sentences the answer
  read (goal: p50 within 1.3x of that).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

import yaml

from benchmarks.common import REPO, Figure, Results, percentile_ms
from benchmarks.corpora import Squad, write_squad_documents
from bot.config import Settings
from bot.core.answering.reader import Passage, Reader
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


class _RecordingReader:
    """The engine's reader, remembering what it read last, so that the floor can read it again."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.last: tuple[str, list[Passage]] | None = None

    def scores(self, question: str, passages: list[Passage]):
        self.last = (question, passages)
        return self.reader.scores(question, passages)


def _answers(results: Results, section: str, engine: Engine, questions: list[str], repeats: int) -> None:
    """Warm answers against their floor: the question's encoding plus the reader's forward pass over
    exactly the sentences this answer read (the two model calls an answer cannot skip)."""
    live = engine._require_live()
    reader = _RecordingReader(live.helpers.reader) if live.helpers.reader is not None else None
    if reader is not None:
        engine._live = replace(live, helpers=replace(live.helpers, reader=reader))
    for question in questions[:10]:  # warm caches and lazy paths
        engine.answer(question)
    answers, floors, reads = [], [], []
    for _ in range(repeats):
        for question in questions:
            if reader is not None:
                reader.last = None
            started = time.perf_counter()
            engine.answer(question)
            answers.append(time.perf_counter() - started)
            started = time.perf_counter()
            engine.embedder.encode_query(question)
            encoded = time.perf_counter() - started
            read = 0.0
            if reader is not None and reader.last is not None:
                started = time.perf_counter()
                reader.reader.scores(*reader.last)
                read = time.perf_counter() - started
            floors.append(encoded + read)
            reads.append(read)
    what = "query encoding + reader pass" if reader is not None else "query encoding"
    for q in (50, 99):
        results.add(
            Figure(
                section,
                f"answer p{q}, launch corpus",
                percentile_ms(answers, q),
                percentile_ms(floors, q),
                "ms",
                f"the model's {what} p{q}",
                "<= 1.3x" if q == 50 else "",
                percentile_ms(answers, q) <= 1.3 * percentile_ms(floors, q) if q == 50 else None,
                f"{len(answers)} answers ({len(questions)} English and Hindi questions x {repeats}); "
                f"the reader's pass p{q} {percentile_ms(reads, q):.1f} ms",
            )
        )
