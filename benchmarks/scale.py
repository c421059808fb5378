"""A million chunk vectors: the approximate index the engine picks at that size, against exact search.

The vectors are blends of real sentence embeddings plus noise (see ``benchmarks/corpora.py``), and
the queries are drawn the same way, so neighbourhoods exist as in a real corpus. The index is
whatever ``make_faiss_index`` returns for the configured ``hnsw_threshold``: build time, memory,
single-query search latency (what a question pays) and recall@10 against exact search.
"""

from __future__ import annotations

import logging
import time

import faiss
import numpy as np

from benchmarks.common import Figure, Results, percentile_ms, rss_mb, timed
from benchmarks.corpora import blends
from bot.core.store.faiss_build import make_faiss_index

logger = logging.getLogger(__name__)

K = 10


def scale(
    results: Results, pool: np.ndarray, vectors: int, queries: int, threshold: int, rng: np.random.Generator
) -> None:
    data = blends(pool, vectors, rng)
    asked = blends(pool, queries, rng)
    exact = faiss.IndexFlatIP(data.shape[1])
    flat_seconds = timed(lambda: exact.add(data))
    _, truth = exact.search(asked, K)
    exact_latency = _latencies(exact, asked[: max(20, queries // 10)])
    before = rss_mb()
    started = time.perf_counter()
    index = make_faiss_index(data, threshold)
    build_seconds = time.perf_counter() - started
    memory = rss_mb() - before
    exact.reset()  # frees its copy of the vectors before measuring the approximate index
    latency = _latencies(index, asked)
    found = np.stack([index.search(query[None, :], K)[1][0] for query in asked])
    recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))
    kind = _describe(index)
    section = f"scale: {vectors:,} vectors"
    results.facts["scale_index"] = kind
    results.add(
        Figure(section, f"build ({kind})", build_seconds, flat_seconds, "s", "exact index build", note="2 threads")
    )
    results.add(Figure(section, "index memory", memory, data.nbytes / 2**20, "MB", "the raw float32 vectors"))
    results.add(
        Figure(
            section,
            "search p50",
            percentile_ms(latency, 50),
            percentile_ms(exact_latency, 50),
            "ms",
            "exact search p50",
            note=f"{len(latency)} single-vector queries",
        )
    )
    p99 = percentile_ms(latency, 99)
    results.add(
        Figure(
            section,
            "search p99",
            p99,
            percentile_ms(exact_latency, 99),
            "ms",
            "exact search p99",
            "< 10 ms",
            p99 < 10.0,
        )
    )
    results.add(
        Figure(
            section,
            "recall@10",
            recall,
            1.0,
            "",
            "exact search",
            "≥ 0.95",
            recall >= 0.95,
            f"{queries} queries drawn like the data",
        )
    )


def _latencies(index: faiss.Index, queries: np.ndarray) -> list[float]:
    index.search(queries[:5], K)  # warm
    samples = []
    for query in queries:
        started = time.perf_counter()
        index.search(query[None, :], K)
        samples.append(time.perf_counter() - started)
    return samples


def _describe(index: faiss.Index) -> str:
    if hasattr(index, "hnsw"):
        return f"HNSW M={index.hnsw.nb_neighbors(1)} efC={index.hnsw.efConstruction} efS={index.hnsw.efSearch}"
    return type(index).__name__
