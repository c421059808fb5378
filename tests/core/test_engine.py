"""The engine: opening a missing or stale index, one reindex at a time, and installing a version built
elsewhere (another process, or a reindex of its own) without stopping the questions in flight."""

from __future__ import annotations

import threading

import pytest

from bot.core.engine import Engine
from bot.core.store import faiss_build, faiss_store
from bot.core.store.faiss_versions import build_lock
from bot.core.store.index import IndexBusy
from tests.helpers import NEW_DOC, build_faiss_index


def test_stale_index_is_detected_and_open_updates_it(settings, embedder):
    engine = Engine(settings, embedder)
    engine.open()
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    stale = engine.freshness()
    assert stale.stale and stale.added == ["docking"]
    notices: list[str] = []
    Engine(settings, embedder).open(notify=notices.append)
    assert notices and "out of date" in notices[0]
    reopened = Engine(settings, embedder)
    reopened.load()
    assert not reopened.freshness().stale


def test_engine_refuses_a_second_concurrent_reindex(settings, embedder, monkeypatch):
    engine = Engine(settings, embedder)
    started, release = threading.Event(), threading.Event()
    real_build = faiss_build.build_index

    def slow_build(*args, **kwargs):
        started.set()
        release.wait(10)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(faiss_store, "build_index", slow_build)
    worker = threading.Thread(target=engine.reindex)
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(IndexBusy):
            engine.reindex()
    finally:
        release.set()
        worker.join()
    assert engine.index.chunks


def test_reload_picks_up_an_index_built_by_another_process(settings, embedder):
    engine = Engine(settings, embedder)
    engine.open()
    assert not engine.reload_if_changed()
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    build_faiss_index(settings, embedder)  # as `launchbot index` would, outside this engine
    assert engine.reload_if_changed()
    assert "docking" in engine.index.documents


def test_reload_waits_for_a_reindex_and_never_installs_an_older_version(settings, embedder, monkeypatch):
    engine = Engine(settings, embedder)
    engine.open()
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    build_faiss_index(settings, embedder)  # another process: CURRENT moves on
    reloaded_during_build: list[bool] = []
    real_build = engine.store.build

    def build_and_try_reload(*args, **kwargs):
        reloaded_during_build.append(engine.reload_if_changed())
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engine.store, "build", build_and_try_reload)
    engine.reindex()
    assert reloaded_during_build == [False]  # one lock: no reload while this engine reindexes
    newest = engine.index.path
    older = sorted(p for p in settings.index_dir.glob("v*") if p != newest)[-1]
    monkeypatch.setattr(engine.store, "current_version", lambda: older)  # a stale read of CURRENT
    assert not engine.reload_if_changed()
    assert engine.index.path == newest


def test_open_answers_from_the_live_index_while_another_process_builds(settings, embedder):
    Engine(settings, embedder).open()
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    notices: list[str] = []
    engine = Engine(settings, embedder)
    with build_lock(settings.index_dir):  # as `launchbot index` in another process
        engine.open(notify=notices.append)
    assert any("being updated" in notice for notice in notices)
    assert engine.answer("Where was the rocket launched from?").answered
    assert "docking" not in engine.index.documents
