"""Index building, incremental reuse, atomic swaps, and what happens when things go wrong."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from bot.core import index as index_module
from bot.core.engine import Engine
from bot.core.index import (
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    IndexSettings,
    build_index,
    build_lock,
    current_version,
    freshness,
    load_index,
)
from bot.core.knowledge import load_documents
from tests.helpers import CountingEmbedder

NEW_DOC = "---\ntitle: Docking\n---\nProgress 71 docked to the Zvezda module after a two-day chase.\n"


def build(settings, embedder, **kwargs):
    index_settings = IndexSettings(embedder.name, settings.chunk_size, settings.chunk_overlap)
    return build_index(settings.knowledge_dir, settings.index_dir, embedder, index_settings, **kwargs)


def test_build_writes_a_complete_manifest_and_loads(settings, embedder):
    report = build(settings, embedder)
    loaded = load_index(settings.index_dir)
    manifest = loaded.manifest
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dimension"] == 384
    assert manifest["settings"]["chunk_size"] == settings.chunk_size
    assert manifest["index_type"] == "flat"
    assert set(manifest["documents"]) == {d.doc_id for d in load_documents(settings.knowledge_dir).documents}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["documents"].values())
    assert loaded.chunk_vectors.ntotal == len(loaded.chunks) == report.chunks
    assert loaded.sentence_vectors.shape == (len(loaded.sentences), 384)
    norms = np.linalg.norm(loaded.sentence_vectors, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)


def test_incremental_reindex_embeds_only_what_changed(settings, embedder):
    spy = CountingEmbedder(embedder)
    first = build(settings, spy)
    built = load_index(settings.index_dir)
    unique_texts = {built.chunk_text(i) for i in range(len(built.chunks))} | {
        built.sentence_text(i) for i in range(len(built.sentences))
    }
    assert first.full_rebuild and spy.embedded == first.embedded == len(unique_texts)

    spy.calls.clear()
    unchanged = build(settings, spy)
    assert spy.embedded == 0 and unchanged.embedded == 0
    assert unchanged.added == unchanged.updated == unchanged.removed == []

    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    spy.calls.clear()
    added = build(settings, spy)
    assert added.added == ["docking"]
    assert spy.embedded == 1  # its one sentence, which is also its one chunk: nothing else re-embedded
    assert added.reused == len(unique_texts)

    (settings.knowledge_dir / "docking.md").unlink()
    removed = build(settings, spy)
    assert removed.removed == ["docking"]
    assert "docking" not in load_index(settings.index_dir).documents


def test_reused_vectors_equal_fresh_ones(settings, embedder):
    build(settings, embedder)
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    build(settings, embedder)
    incremental = load_index(settings.index_dir)
    build(settings, embedder, rebuild=True)
    fresh = load_index(settings.index_dir)
    assert np.allclose(incremental.sentence_vectors, fresh.sentence_vectors, atol=1e-5)


def test_changed_chunking_forces_a_full_rebuild(settings, embedder):
    build(settings, embedder)
    spy = CountingEmbedder(embedder)
    changed = settings.model_copy(update={"chunk_size": 300})
    report = build(changed, spy)
    assert report.full_rebuild and report.reused == 0
    assert freshness(
        load_index(settings.index_dir),
        load_documents(settings.knowledge_dir),
        IndexSettings(embedder.name, 800, settings.chunk_overlap),
    ).settings_changed


def test_failure_mid_build_leaves_the_previous_index_serving(settings, embedder, monkeypatch):
    build(settings, embedder)
    before = current_version(settings.index_dir)
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_module, "_write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        build(settings, embedder)
    assert current_version(settings.index_dir) == before
    assert "docking" not in load_index(settings.index_dir).documents
    assert not list(settings.index_dir.glob(".tmp-*")), "a failed build must clean up after itself"


def test_a_crash_leftover_is_ignored_then_cleaned(settings, embedder):
    build(settings, embedder)
    leftover = settings.index_dir / ".tmp-deadbeef"
    leftover.mkdir()
    (leftover / "chunks.faiss").write_bytes(b"half written")
    assert load_index(settings.index_dir).chunks
    build(settings, embedder)
    assert not leftover.exists()


def test_missing_index_says_what_to_run(tmp_path: Path):
    with pytest.raises(IndexMissing, match="launchbot index"):
        load_index(tmp_path)


@pytest.mark.parametrize(
    "damage", ["truncate_faiss", "garbage_manifest", "bad_pointer", "dangling_pointer", "missing_file"]
)
def test_corrupt_index_gives_a_clear_error(settings, embedder, damage):
    build(settings, embedder)
    version = current_version(settings.index_dir)
    if damage == "truncate_faiss":
        data = (version / "chunks.faiss").read_bytes()
        (version / "chunks.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_manifest":
        (version / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "bad_pointer":
        (settings.index_dir / "CURRENT").write_text("../../etc", encoding="utf-8")
    elif damage == "dangling_pointer":
        (settings.index_dir / "CURRENT").write_text("v0-gone", encoding="utf-8")
    else:
        (version / "sentences.npy").unlink()
    with pytest.raises(IndexCorrupt, match="launchbot index --rebuild"):
        load_index(settings.index_dir)


def test_rebuild_recovers_from_a_corrupt_index(settings, embedder):
    build(settings, embedder)
    version = current_version(settings.index_dir)
    (version / "chunks.faiss").write_bytes(b"garbage")
    build(settings, embedder)  # a corrupt previous index is not reused, but does not stop the build
    assert load_index(settings.index_dir).chunks


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


def test_two_builds_never_run_at_once(settings, embedder):
    with build_lock(settings.index_dir), pytest.raises(IndexBusy):
        build(settings, embedder)


def test_engine_refuses_a_second_concurrent_reindex(settings, embedder, monkeypatch):
    engine = Engine(settings, embedder)
    started, release = threading.Event(), threading.Event()
    real_build = index_module.build_index

    def slow_build(*args, **kwargs):
        started.set()
        release.wait(10)
        return real_build(*args, **kwargs)

    monkeypatch.setattr("bot.core.store.build_index", slow_build)
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


def test_broken_document_is_skipped_and_reported_by_the_build(settings, embedder):
    (settings.knowledge_dir / "broken.md").write_bytes(b"---\ntitle: [oops\n---\nText.\n")
    report = build(settings, embedder)
    assert [e.path.endswith("broken.md") for e in report.errors] == [True]
    manifest = load_index(settings.index_dir).manifest
    assert manifest["skipped"][0]["reason"].startswith("invalid YAML")
    assert len(manifest["documents"]) == 3


def test_reload_picks_up_an_index_built_by_another_process(settings, embedder):
    engine = Engine(settings, embedder)
    engine.open()
    assert not engine.reload_if_changed()
    (settings.knowledge_dir / "docking.md").write_text(NEW_DOC, encoding="utf-8")
    build(settings, embedder)  # as `launchbot index` would, outside this engine
    assert engine.reload_if_changed()
    assert "docking" in engine.index.documents


def test_a_full_rebuild_reports_changes_against_the_live_index(settings, embedder):
    build(settings, embedder)
    report = build(settings, embedder, rebuild=True)
    assert report.full_rebuild and report.reused == 0
    assert report.added == [] and len(report.unchanged) == 3
