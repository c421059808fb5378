"""Benchmark data: real SQuAD text, real embeddings of it, and large corpora with realistic structure.

Uniformly random vectors have no neighbourhoods, so approximate search looks useless on them and
says nothing about real recall. The large corpora here are instead built from real embeddings of a
few thousand real sentences (SQuAD 2.0 dev paragraphs and questions): each vector blends two of them
and adds a little noise. The 100k-chunk knowledge corpus goes one step further and also writes the
text: each sentence is the start of one real sentence and the end of another, its vector the same
blend, so BM25, chunking and answering run on realistic text while nothing needs 40 minutes of
embedding.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.common import OUT, REPO
from bot.core.embed.embedding import Embedder
from bot.core.ingest.chunking import chunk_documents, sentence_key, split_sentences
from bot.core.ingest.knowledge import load_documents
from bot.evaluation import question_set_missing

logger = logging.getLogger(__name__)

SQUAD = Path(os.environ.get("SHARED_EVAL") or REPO.parent / "shared" / "eval") / "squad2" / "dev-v2.0-half.json"
SQUAD_SAMPLE = REPO / "tests" / "data" / "squad2_sample.json"  # in every clone: 24 paragraphs
NOISE = 0.25  # norm of the isotropic noise added to each blend (cosine to the blend ~0.97)
SENTENCES_PER_PARAGRAPH = 4  # ~680 characters: one 800-character chunk per paragraph
PARAGRAPHS_PER_DOCUMENT = 20


@dataclass(frozen=True)
class Squad:
    paragraphs: list[tuple[str, str]]  # (article title, paragraph text)
    questions: list[str]
    paragraph_questions: list[list[str]]


def load_squad(path: Path = SQUAD) -> Squad:
    if not path.is_file():
        raise question_set_missing(path)
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs = [(article["title"].replace("_", " "), p["context"]) for article in data for p in article["paragraphs"]]
    asked = [
        [qa["question"] for qa in p["qas"] if not qa.get("is_impossible")]
        for article in data
        for p in article["paragraphs"]
    ]
    return Squad(paragraphs, [q for qs in asked for q in qs], asked)


def squad_or_sample() -> tuple[Squad, Path]:
    """The SQuAD half dev set beside the clone (``../shared``), else the sample every clone has: the
    sections that only need real sentences and vectors to blend (postgres) run either way."""
    if SQUAD.is_file():
        return load_squad(SQUAD), SQUAD
    logger.warning("%s not found: using %s (fewer real sentences to blend)", SQUAD, SQUAD_SAMPLE.relative_to(REPO))
    return load_squad(SQUAD_SAMPLE), SQUAD_SAMPLE


def squad_sentences(squad: Squad) -> list[str]:
    """Every distinct sentence of the paragraphs, split the way the index splits them."""
    seen: dict[str, str] = {}
    for _, text in squad.paragraphs:
        for start, end in split_sentences(text):
            sentence = text[start:end]
            if len(sentence) >= 40:
                seen.setdefault(sentence_key(sentence), sentence)
    return sorted(seen.values())


def embed_cached(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Real embeddings of ``texts``, kept in benchmarks/out/ so a rerun does not pay for them again."""
    key = hashlib.sha256(json.dumps([embedder.name, list(texts)]).encode()).hexdigest()[:16]
    path = OUT / f"embeddings-{key}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedder.encode_passages(list(texts))
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def normalise(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def blends(pool: np.ndarray, n: int, rng: np.random.Generator, noise: float = NOISE) -> np.ndarray:
    """``n`` unit vectors, each (1-w)·a + w·b + noise for random real embeddings a, b and w in [0, 0.5]."""
    dimension = pool.shape[1]
    out = np.empty((n, dimension), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b = rng.integers(len(pool), size=m), rng.integers(len(pool), size=m)
        w = rng.uniform(0.0, 0.5, size=(m, 1)).astype(np.float32)
        jitter = rng.standard_normal((m, dimension), dtype=np.float32) * np.float32(noise / np.sqrt(dimension))
        out[start : start + m] = normalise((1 - w) * pool[a] + w * pool[b] + jitter)
    return out


# --------------------------------------------------------------------------- knowledge corpora


def write_document(directory: Path, name: str, title: str, body: str) -> None:
    (directory / f"{name}.md").write_text(f"---\ntitle: {json.dumps(title)}\n---\n{body}\n", encoding="utf-8")


def write_squad_documents(squad: Squad, directory: Path, count: int) -> list[str]:
    """``count`` documents of about half a SQuAD paragraph each (real text, ~1 chunk each); returns
    the questions of the paragraphs used, for asking."""
    directory.mkdir(parents=True, exist_ok=True)
    written, questions = 0, []
    for number, (title, text) in enumerate(squad.paragraphs):
        spans = split_sentences(text)
        half = max(1, len(spans) // 2)
        for part, group in enumerate((spans[:half], spans[half:])):
            if group and written < count:
                write_document(directory, f"p{number:04d}-{part}", title, text[group[0][0] : group[-1][1]])
                written += 1
        questions.extend(squad.paragraph_questions[number])
        if written >= count:
            break
    return questions


@dataclass
class SyntheticCorpus:
    """A knowledge directory and the vector of every sentence and chunk text the index will embed."""

    directory: Path
    vectors: dict[str, np.ndarray]
    chunks: int


def write_synthetic_corpus(
    directory: Path, sentences: list[str], pool: np.ndarray, chunks: int, rng: np.random.Generator
) -> SyntheticCorpus:
    """About ``chunks`` chunks of blended real sentences, with their blended vectors."""
    directory.mkdir(parents=True, exist_ok=True)
    texts, vectors = _hybrid_sentences(sentences, pool, chunks * SENTENCES_PER_PARAGRAPH, rng)
    spans: dict[str, tuple[list[int], list[int]]] = {}  # doc_id -> (starts, hybrid ids)
    per_document = SENTENCES_PER_PARAGRAPH * PARAGRAPHS_PER_DOCUMENT
    for number, first in enumerate(range(0, len(texts), per_document)):
        body, starts, ids = _document_body(texts, range(first, min(first + per_document, len(texts))))
        write_document(directory, f"synthetic-{number:05d}", f"Synthetic article {number}", body)
        spans[f"synthetic-{number:05d}"] = (starts, ids)
    lookup = _chunk_and_sentence_vectors(directory, spans, vectors, rng)
    return SyntheticCorpus(directory, lookup, chunks)


def _hybrid_sentences(
    sentences: list[str], pool: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """``n`` distinct sentences: the start of one real sentence and the end of another (the chunker
    indexes a repeated sentence once, so real sentences reused as they are cannot fill 100k chunks)."""
    words = [sentence.split() for sentence in sentences]
    texts: list[str] = []
    rows: list[tuple[int, int, float]] = []
    seen: set[str] = set()
    while len(texts) < n:
        a, b = rng.integers(len(words), size=(2, n))
        share = rng.uniform(0.3, 0.7, size=n)
        for i, j, w in zip(a, b, share, strict=True):
            head, tail = words[i][: max(1, round(len(words[i]) * w))], words[j][round(len(words[j]) * w) :]
            text = " ".join(head + (tail or words[j][-1:]))
            text = text if text[-1] in ".!?" else text + "."
            if sentence_key(text) not in seen and len(texts) < n:
                seen.add(sentence_key(text))
                texts.append(text)
                rows.append((i, j, w))
    a, b, w = (np.array(column) for column in zip(*rows, strict=True))
    jitter = rng.standard_normal((n, pool.shape[1]), dtype=np.float32) * np.float32(NOISE / np.sqrt(pool.shape[1]))
    weights = w[:, None].astype(np.float32)
    return texts, normalise(weights * pool[a] + (1 - weights) * pool[b] + jitter)


def _document_body(texts: list[str], ids: range) -> tuple[str, list[int], list[int]]:
    parts, starts, position = [], [], 0
    for k, hybrid in enumerate(ids):
        separator = "" if k == 0 else ("\n\n" if k % SENTENCES_PER_PARAGRAPH == 0 else " ")
        position += len(separator)
        starts.append(position)
        parts.append(separator + texts[hybrid])
        position += len(texts[hybrid])
    return "".join(parts), starts, list(ids)


def _chunk_and_sentence_vectors(
    directory: Path, spans: dict[str, tuple[list[int], list[int]]], vectors: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Chunk the corpus exactly as the index will; a sentence's vector is that of the hybrid(s) it
    spans, a chunk's the normalised mean of its sentences' plus the same small noise."""
    loaded = load_documents(directory)
    chunking = chunk_documents(loaded.documents)
    texts = {doc.doc_id: doc.text for doc in loaded.documents}
    lookup: dict[str, np.ndarray] = {}
    sentence_vectors = np.empty((len(chunking.sentences), vectors.shape[1]), dtype=np.float32)
    for row, sentence in enumerate(chunking.sentences):
        starts, ids = spans[sentence.doc_id]
        first = max(0, bisect.bisect_right(starts, sentence.start) - 1)
        last = max(first, bisect.bisect_left(starts, sentence.end) - 1)
        sentence_vectors[row] = normalise(vectors[ids[first] : ids[last] + 1].sum(axis=0, keepdims=True))[0]
        lookup[texts[sentence.doc_id][sentence.start : sentence.end]] = sentence_vectors[row]
    means = np.stack([sentence_vectors[list(chunk.sentences)].mean(axis=0) for chunk in chunking.chunks])
    jitter = rng.standard_normal(means.shape, dtype=np.float32) * np.float32(NOISE / 4 / np.sqrt(means.shape[1]))
    for chunk, vector in zip(chunking.chunks, normalise(means + jitter), strict=True):
        lookup[texts[chunk.doc_id][chunk.start : chunk.end]] = vector
    logger.info(
        "synthetic corpus: %d documents, %d chunks, %d sentences",
        len(loaded.documents),
        len(chunking.chunks),
        len(chunking.sentences),
    )
    return lookup


class LookupEmbedder(Embedder):
    """The real model's name and dimension, vectors looked up: indexes 100k chunks in minutes.

    The index records the model name, so an engine with the real embedder serves this index as is.
    """

    def __init__(self, vectors: dict[str, np.ndarray], model: str = "default") -> None:
        super().__init__(model)
        self.lookup = vectors

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.lookup[text] for text in texts])
