"""The PostgreSQL + pgvector index against FAISS, in the same run (real servers on 127.0.0.1).

- answer latency on the launch corpus and on a ~100k-chunk corpus: the postgres engine and the FAISS
  engine over the same documents and vectors, asked the same questions interleaved; FAISS is the floor;
- pgvector HNSW (same M / ef_construction / ef_search as FAISS) at ``postgres_vectors`` vectors:
  search p50/p99 against exact search, recall@10 against exact, build time against FAISS HNSW's.
  Building HNSW over 1M vectors takes ~6 minutes in PostgreSQL on 2 cores, so the full run uses
  200,000 unless ``--postgres-vectors 1000000`` asks for the million;
- two processes answering 1,000 questions together from one postgres index: throughput and p99,
  against one process answering them alone.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import yaml
from pydantic import SecretStr

from benchmarks.common import BENCH_MODEL, REPO, Figure, Results, percentile_ms
from benchmarks.corpora import LookupEmbedder, blends, write_synthetic_corpus
from bot.config import Settings
from bot.core.engine import Engine
from bot.core.store.faiss_build import build_index, make_faiss_index
from bot.core.store.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, IndexSettings
from bot.core.store.postgres_search import connect
from bot.core.store.postgres_store import PostgresIndexStore

logger = logging.getLogger(__name__)

DEV_SET = REPO / "tests" / "data" / "dev_qa.yaml"
K = 10


def start_database() -> tuple[str, object]:
    from tests.servers import create_database, start_postgres

    server = start_postgres()
    return create_database(server.url), server


def on_postgres(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"index_backend": "postgres", "database_url": SecretStr(database_url)})


def engines(settings: Settings, embedder, database_url: str, *, build: bool) -> tuple[Engine, Engine]:
    """(faiss, postgres) engines over the same knowledge; ``build``: each builds its index first."""
    pair = Engine(settings, embedder), Engine(on_postgres(settings, database_url), embedder)
    for engine in pair:
        engine.open() if build else engine.load()
    return pair


def latency_pair(
    results: Results, section: str, faiss_engine: Engine, pg_engine: Engine, questions: Sequence[str], repeats: int
) -> None:
    """p50/p99 of the postgres engine against the FAISS engine, question by question interleaved."""
    for question in questions[:10]:
        faiss_engine.answer(question)
        pg_engine.answer(question)
    ours, floors, same = [], [], 0
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            answer = pg_engine.answer(question)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            reference = faiss_engine.answer(question)
            floors.append(time.perf_counter() - started)
            same += answer.text == reference.text
    note = f"{len(ours)} answers over {len(pg_engine.index.chunks):,} chunks; {same} identical to FAISS's"
    for q in (50, 99):
        value, base = percentile_ms(ours, q), percentile_ms(floors, q)
        results.add(Figure(section, f"postgres answer p{q}", value, base, "ms", "FAISS engine", note=note))


def launch(results: Results, workdir: Path, embedder, database_url: str, repeats: int) -> Settings:
    root = workdir / "pg-launch"
    shutil.copytree(REPO / "knowledge", root / "knowledge")
    settings = Settings(knowledge_dir=root / "knowledge", index_dir=root / "index", model=BENCH_MODEL)
    faiss_engine, pg_engine = engines(settings, embedder, database_url, build=True)
    questions = [item["question"] for item in yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))["items"]]
    latency_pair(results, "launch corpus", faiss_engine, pg_engine, questions, repeats)
    return pg_engine.settings


def corpus(
    results: Results,
    workdir: Path,
    embedder,
    database_url: str,
    sentences: list[str],
    pool: np.ndarray,
    questions: list[str],
    chunks: int,
    asked: int,
    rng: np.random.Generator,
) -> None:
    """The same synthetic corpus (real sentence pieces, blended real vectors) in both stores."""
    root = workdir / "pg-corpus"
    settings = Settings(knowledge_dir=root / "knowledge", index_dir=root / "index", model=BENCH_MODEL)
    made = write_synthetic_corpus(settings.knowledge_dir, sentences, pool, chunks, rng)
    lookup = LookupEmbedder(made.vectors, settings.model)
    index_settings = IndexSettings(
        lookup.name, settings.chunk_size, settings.chunk_overlap, settings.hnsw_threshold, lookup.vector_source
    )
    started = time.perf_counter()
    build_index(settings.knowledge_dir, settings.index_dir, lookup, index_settings)
    faiss_seconds = time.perf_counter() - started
    store = PostgresIndexStore(database_url)
    started = time.perf_counter()
    report = store.build(settings.knowledge_dir, lookup, index_settings)
    pg_seconds = time.perf_counter() - started
    del made, lookup
    section = f"{report.chunks:,}-chunk corpus"
    results.add(Figure(section, "postgres index build", pg_seconds, faiss_seconds, "s", "FAISS build_index"))
    faiss_engine, pg_engine = engines(settings, embedder, database_url, build=False)
    chosen = [str(q) for q in rng.choice(questions, size=asked, replace=False)]
    latency_pair(results, section, faiss_engine, pg_engine, chosen, 1)


def vectors_at_scale(
    results: Results, database_url: str, pool: np.ndarray, count: int, queries: int, rng: np.random.Generator
) -> None:
    """pgvector HNSW against exact search (recall, latency) and FAISS HNSW (build)."""
    data = blends(pool, count, rng)
    asked = blends(pool, queries, rng)
    exact = faiss.IndexFlatIP(data.shape[1])
    exact.add(data)
    _, truth = exact.search(asked, K)
    exact_latency = []
    for query in asked[: max(20, queries // 10)]:
        started = time.perf_counter()
        exact.search(query[None, :], K)
        exact_latency.append(time.perf_counter() - started)
    exact.reset()
    started = time.perf_counter()
    make_faiss_index(data, 0)
    faiss_build = time.perf_counter() - started
    section = f"postgres: {count:,} vectors"
    with connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE bench (id INT PRIMARY KEY, embedding vector({data.shape[1]}))")
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for row, vector in enumerate(data):
                copy.write_row((row, vector))
        load = time.perf_counter() - started
        conn.execute("SET maintenance_work_mem = '2GB'")
        started = time.perf_counter()
        conn.execute(
            "CREATE INDEX ON bench USING hnsw (embedding vector_ip_ops)"
            f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        build = time.perf_counter() - started
        conn.execute(f"SET hnsw.ef_search = {HNSW_EF_SEARCH}")
        sql = "SELECT id FROM bench ORDER BY embedding <#> %s LIMIT %s"
        for query in asked[:5]:
            conn.execute(sql, (query, K)).fetchall()
        latency, found = [], []
        for query in asked:
            started = time.perf_counter()
            found.append([row[0] for row in conn.execute(sql, (query, K))])
            latency.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench")
    recall = float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))
    results.facts["postgres_vectors_load_seconds"] = round(load, 1)
    results.add(Figure(section, "pgvector HNSW build", build, faiss_build, "s", "FAISS HNSW build", note="2 cores"))
    results.add(
        Figure(
            section, "search p50", percentile_ms(latency, 50), percentile_ms(exact_latency, 50), "ms", "exact search"
        )
    )
    p99 = percentile_ms(latency, 99)
    results.add(
        Figure(
            section, "search p99", p99, percentile_ms(exact_latency, 99), "ms", "exact search", "< 10 ms", p99 < 10.0
        )
    )
    results.add(
        Figure(section, "recall@10", recall, 1.0, "", "exact search", "≥ 0.95", recall >= 0.95, f"{queries} queries")
    )


def _answer_worker(database_url: str, settings_json: str, questions: list[str], start, out) -> None:
    engine = Engine(on_postgres(Settings.model_validate_json(settings_json), database_url))
    engine.load()
    for question in questions[:5]:
        engine.answer(question)
    start.wait()
    latencies = []
    for question in questions:
        started = time.perf_counter()
        engine.answer(question)
        latencies.append(time.perf_counter() - started)
    out.put(latencies)


def processes(results: Results, database_url: str, settings: Settings, total: int) -> None:
    """``total`` questions answered by one process, then split between two processes at once."""
    items = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))["items"]
    questions = [items[n % len(items)]["question"] for n in range(total)]
    settings_json = settings.model_copy(update={"database_url": None, "index_backend": "faiss"}).model_dump_json()
    context = multiprocessing.get_context("spawn")
    measured = {}
    for workers in (1, 2):
        start, out = context.Barrier(workers + 1), context.Queue()
        share = [questions[w::workers] for w in range(workers)]
        procs = [
            context.Process(target=_answer_worker, args=(database_url, settings_json, share[w], start, out))
            for w in range(workers)
        ]
        for proc in procs:
            proc.start()
        start.wait()
        started = time.perf_counter()
        latencies = [sample for _ in procs for sample in out.get(timeout=1800)]
        wall = time.perf_counter() - started
        for proc in procs:
            proc.join(60)
        measured[workers] = (total / wall, percentile_ms(latencies, 99))
    section = f"postgres: {total:,} questions"
    (one_rate, one_p99), (two_rate, two_p99) = measured[1], measured[2]
    results.add(
        Figure(
            section,
            "throughput, 2 processes",
            two_rate,
            one_rate,
            "q/s",
            "1 process",
            "ratio > 1.0",
            two_rate > one_rate,
        )
    )
    results.add(Figure(section, "answer p99, 2 processes", two_p99, one_p99, "ms", "1 process"))


def postgres(
    results: Results,
    workdir: Path,
    embedder,
    sentences: list[str],
    pool: np.ndarray,
    questions: list[str],
    sizes,
    rng: np.random.Generator,
    section,
) -> None:
    database_url, server = start_database()
    try:
        with section(results, "postgres launch"):
            launch_settings = launch(results, workdir, embedder, database_url, sizes.launch_repeats)
        with section(results, "postgres processes"):
            processes(results, database_url, launch_settings, sizes.postgres_questions)
        with section(results, "postgres corpus"):
            corpus_url = _fresh(server)
            corpus(
                results,
                workdir,
                embedder,
                corpus_url,
                sentences,
                pool[: len(sentences)],
                questions,
                sizes.corpus_chunks,
                sizes.corpus_questions,
                rng,
            )
        with section(results, "postgres scale"):
            vectors_at_scale(results, _fresh(server), pool, sizes.postgres_vectors, sizes.scale_queries, rng)
    finally:
        server.stop()


def _fresh(server) -> str:
    from tests.servers import create_database

    return create_database(server.url)
