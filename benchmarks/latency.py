"""Warm answer latency against the floor: torch fp32 query embedding + exact FAISS search.

The floor is the naive stack's unavoidable part (embed the question with sentence-transformers,
search the same chunk vectors exactly); the engine does that *and* BM25, fusion and sentence
scoring. The engine and the floor run interleaved, question by question, so that the load of a
shared machine hits both alike. The floor's torch runs one thread: on a loaded 2-core machine two
OpenMP threads wait on each other at every layer and its latency explodes (10x and more), which
would flatter the engine; one thread is torch's best batch-1 setting under load.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence

import faiss
import numpy as np

from benchmarks.common import Figure, Results, percentile_ms
from bot.core.engine import Engine

logger = logging.getLogger(__name__)


def exact_copy(index: faiss.Index) -> faiss.Index:
    """The same vectors behind exact inner-product search (the index itself when it already is)."""
    if isinstance(index, faiss.IndexFlat):
        return index
    exact = faiss.IndexFlatIP(index.d)
    exact.add(index.reconstruct_n(0, index.ntotal))
    return exact


def answer_latency(
    results: Results, section: str, engine: Engine, floor_model, questions: Sequence[str], repeats: int
) -> None:
    """p50 and p99 of ``engine.answer`` and of the floor over ``repeats`` passes of ``questions``."""
    exact = exact_copy(engine.index.chunk_vectors)
    k = min(engine.settings.candidates, exact.ntotal)

    def floor(question: str) -> None:
        vector = floor_model.encode([question], normalize_embeddings=True, convert_to_numpy=True)
        exact.search(np.asarray(vector, dtype=np.float32), k)

    ours, floors, embeds, torch_embeds = [], [], [], []
    with torch_threads(1):
        for question in questions[: min(len(questions), 10)]:  # warm caches and lazy paths on both sides
            engine.answer(question)
            floor(question)
        for _ in range(repeats):
            for question in questions:
                ours.append(_seconds(engine.answer, question))
                floors.append(_seconds(floor, question))
                embeds.append(_seconds(engine.embedder.encode_query, question))
                torch_embeds.append(_seconds(lambda q: floor_model.encode([q], normalize_embeddings=True), question))
    count = f"{len(ours)} answers over {len(engine.index.chunks):,} chunks; floor torch 1 thread"
    for q, goal in ((50, "ratio < 1.0"), (99, "")):
        value, base = percentile_ms(ours, q), percentile_ms(floors, q)
        results.add(
            Figure(
                section,
                f"answer p{q}",
                value,
                base,
                "ms",
                "torch embed + exact search",
                goal,
                value < base if goal else None,
                count,
            )
        )
    value, base = percentile_ms(embeds, 50), percentile_ms(torch_embeds, 50)
    results.add(
        Figure(
            section,
            f"query embedding p50 ({engine.embedder.backend})",
            value,
            base,
            "ms",
            "torch fp32 embedding",
            note=f"{len(embeds)} questions, torch 1 thread",
        )
    )


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seconds(function, argument) -> float:
    started = time.perf_counter()
    function(argument)
    return time.perf_counter() - started


def same_answers(results: Results, section: str, engine: Engine, reference: Engine, questions: Sequence[str]) -> None:
    """How many answers (text and quoted sources) the ONNX engine gives exactly as torch does."""
    same = sum(_key(engine.answer(q).to_json()) == _key(reference.answer(q).to_json()) for q in questions)
    differing = len(questions) - same
    results.add(
        Figure(
            section,
            "answers identical to torch",
            same,
            len(questions),
            "answers",
            "all questions",
            "ratio = 1.0",
            same == len(questions),
            f"{differing} differ" if differing else "",
        )
    )


def _key(answer: dict) -> tuple:
    return answer["answered"], answer["answer"], tuple((s["doc_id"], s["start"], s["end"]) for s in answer["sources"])
