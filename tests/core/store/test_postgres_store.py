"""The index in PostgreSQL + pgvector (a real server): same answers as FAISS, versions shared by
processes through LISTEN/NOTIFY, and a build killed mid-transaction leaving the live version serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.core.store.postgres_search import FullTextLexical
from bot.core.store.postgres_store import PostgresIndexStore
from tests.helpers import DEV_SET, REPO, make_settings

HINDI_QUESTIONS = ["प्रक्षेपण कब हुआ?", "इस वीडियो को किसने बनाया?", "अंतरिक्ष यान कहाँ से लॉन्च हुआ?"]


@pytest.fixture
def pg_engine(tmp_path: Path, embedder: Embedder, database_url: str) -> Engine:
    engine = Engine(make_settings(tmp_path, index_backend="postgres", database_url=database_url), embedder)
    engine.open()
    return engine


def _questions() -> list[str]:
    items = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))["items"]
    return [item["question"] for item in items] + HINDI_QUESTIONS + ["What is the capital of Australia?"]


def test_answers_are_the_same_as_faiss(launch_engine: Engine, pg_engine: Engine) -> None:
    """Every dev-set question, Hindi ones and an off-topic one: same decision, text, quotes, scores."""
    assert pg_engine.index.manifest["store"] == "postgres"
    for question in _questions():
        faiss_answer, pg_answer = launch_engine.answer(question), pg_engine.answer(question)
        assert pg_answer.answered == faiss_answer.answered, question
        assert pg_answer.text == faiss_answer.text, question
        assert [s.quote for s in pg_answer.sources] == [s.quote for s in faiss_answer.sources], question
        assert pg_answer.confidence == pytest.approx(faiss_answer.confidence, abs=1e-5), question


def test_reindex_reuses_vectors_and_keeps_two_versions(pg_engine: Engine, database_url: str) -> None:
    first = pg_engine.index.path
    report = pg_engine.reindex()
    assert report.embedded == 0 and report.reused > 0 and not report.full_rebuild
    doc = next(pg_engine.settings.knowledge_dir.glob("*.md"))
    doc.write_text(
        doc.read_text(encoding="utf-8") + "\n\nThe cargo ship also carried fresh apples.\n", encoding="utf-8"
    )
    report = pg_engine.reindex()
    assert report.updated == [doc.stem] and 0 < report.embedded <= 3
    assert pg_engine.index.path == report.path != first
    assert "apples" in pg_engine.answer("What fruit did the cargo ship carry?").text
    with psycopg.connect(database_url) as conn:
        versions = conn.execute("SELECT count(*) FROM index_versions").fetchone()[0]
        schemas = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'idx\\_%'").fetchone()[0]
    assert versions == schemas == 2


def test_full_text_lexical_side_matches_hindi_and_identifiers(pg_engine: Engine, database_url: str) -> None:
    store = PostgresIndexStore(database_url, lexical="fts")
    index = store.load()
    assert isinstance(index.bm25, FullTextLexical)
    for term, wanted in (("ms10", "MS-10"), ("नवंबर", "नवंबर")):
        ids, scores = index.bm25.retrieve([[term]], k=5)
        assert len(ids[0]) > 0 and all(s > 0 for s in scores[0])
        assert wanted in index.chunk_text(int(ids[0][0]))


def _child(code: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's next line; fails the test rather than hanging."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        process.kill()
        pytest.fail(f"no word from the child process within {timeout} s")
    return process.stdout.readline().strip()


def test_a_second_process_serves_a_new_version_within_5_seconds(pg_engine: Engine, database_url: str) -> None:
    """Process B listens (no polling); process A (here) rebuilds; B serves the new version."""
    settings = pg_engine.settings
    child = _child(
        f"""
        import time
        from bot.config import Settings
        from bot.core.engine import Engine
        engine = Engine(Settings(knowledge_dir={str(settings.knowledge_dir)!r}, index_backend="postgres"))
        engine.load()
        engine.watch()
        seen = engine.index.path.name
        print("serving", seen, flush=True)
        while True:
            if engine.index.path.name != seen:
                seen = engine.index.path.name
                print("serving", seen, flush=True)
            time.sleep(0.02)
        """,
        {"LAUNCHBOT_DATABASE_URL": database_url},
    )
    try:
        assert _read_line(child, 120) == f"serving {pg_engine.index.path.name}"
        time.sleep(0.5)  # let its LISTEN start
        report = pg_engine.reindex(rebuild=True)
        swapped = time.monotonic()
        assert _read_line(child, 5) == f"serving {report.path.name}"
        assert time.monotonic() - swapped < 5
    finally:
        child.kill()
        child.wait()


def test_kill_9_mid_build_leaves_the_live_version_serving(pg_engine: Engine, database_url: str) -> None:
    """The build is killed after writing every row, before its commit: the server rolls it all back."""
    live = pg_engine.index.path.name
    before = pg_engine.answer("Where was the rocket launched from?").text
    child = _child(
        f"""
        import time
        from bot.config import Settings
        from bot.core.engine import Engine
        from bot.core.store import postgres_store
        write = postgres_store.write_version
        def write_then_hang(*args, **kwargs):
            write(*args, **kwargs)
            print("written", flush=True)
            time.sleep(600)
        postgres_store.write_version = write_then_hang
        settings = Settings(knowledge_dir={str(pg_engine.settings.knowledge_dir)!r}, index_backend="postgres")
        Engine(settings).reindex(rebuild=True)
        """,
        {"LAUNCHBOT_DATABASE_URL": database_url},
    )
    try:
        assert _read_line(child, 120) == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    with psycopg.connect(database_url) as conn:
        for _ in range(100):  # the server notices the dead connection and rolls back
            if not conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'launchbot index'"
            ).fetchone()[0]:
                break
            time.sleep(0.05)
        versions = conn.execute("SELECT count(*) FROM index_versions").fetchone()[0]
        schemas = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'idx\\_%'").fetchone()[0]
    assert versions == schemas == 1
    assert pg_engine.store.current_version().name == live
    fresh = Engine(pg_engine.settings, pg_engine.embedder)
    fresh.load()
    assert fresh.index.path.name == live and fresh.answer("Where was the rocket launched from?").text == before
    assert pg_engine.reindex().path.name != live  # the dead builder's lock went with its connection


def test_hnsw_where_faiss_uses_it_table_by_table(tmp_path: Path, embedder: Embedder, database_url: str) -> None:
    """Above hnsw_threshold a table gets an HNSW index, as make_faiss_index decides per FAISS index:
    here the 45 sentences do and the 19 chunks do not; answers stay those of FAISS."""
    faiss_engine = Engine(make_settings(tmp_path / "f", hnsw_threshold=30), embedder)
    pg_engine = Engine(
        make_settings(tmp_path / "p", hnsw_threshold=30, index_backend="postgres", database_url=database_url), embedder
    )
    for engine in (faiss_engine, pg_engine):
        engine.open()
    assert pg_engine.index.manifest["hnsw_tables"] == ["sentences"]
    assert pg_engine.index.manifest["index_type"] == faiss_engine.index.manifest["index_type"] == "flat"
    with psycopg.connect(database_url) as conn:
        methods = conn.execute(
            "SELECT c.relname, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            " JOIN pg_class ix ON ix.oid = i.indexrelid JOIN pg_am am ON am.oid = ix.relam"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'idx\\_%' AND am.amname = 'hnsw'"
        ).fetchall()
    assert methods == [("sentences", "hnsw")]
    for question in _questions():
        assert pg_engine.answer(question).text == faiss_engine.answer(question).text, question


def test_a_builder_whose_clock_runs_behind_still_makes_the_newest_version(pg_engine: Engine, monkeypatch) -> None:
    """Engines install only a newer version (by the time in its name): a build from a machine whose
    clock is behind must still be picked up by every other process."""
    import types

    reader = Engine(pg_engine.settings, pg_engine.embedder)
    reader.load()
    slow = types.SimpleNamespace(
        time_ns=lambda: 1, perf_counter=time.perf_counter, strftime=time.strftime, gmtime=time.gmtime
    )
    monkeypatch.setattr("bot.core.store.postgres_store.time", slow)
    report = pg_engine.reindex()
    assert reader.reload_if_changed() and reader.index.path == report.path
