"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidate lists fused by reciprocal rank.

A second, sentence-level dense search adds candidate sentences from chunks that ranked low.
Rank fusion needs no score calibration between the two sides, and keeps exact identifiers
("MS-10", "71", dates) that the dense model blurs. The lexical side stays per language (a Hindi
word never matches an English one); crossing languages is the dense side's job. With an English-only
model (all-MiniLM-L6-v2) the dense side is down-weighted by the share of the question written
outside the Latin script: for a Hindi question its neighbours are close to random and must not
drown BM25's exact matches. A multilingual model (``Embedder.multilingual``) keeps full weight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from bot.core.answering.conversation import Context
from bot.core.embed.embedding import Embedder
from bot.core.ingest.lexical import Lexicon, latin_share, tokenize
from bot.core.store.index import KnowledgeIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    text: str
    vector: np.ndarray
    terms: list[str]
    dense_weight: float
    multilingual: bool = False  # the model's vectors compare texts across languages

    # A follow-up's context (bot/core/answering/conversation.py): earlier turns' terms, each weighted below the
    # question's own (1.0); ``vector`` then leans towards the earlier turns by the same weights.
    context_terms: dict[str, float] = field(default_factory=dict)

    def crosses(self, sentence: str) -> bool:
        """Whether ``sentence`` is in the other script and the model compares across scripts: terms
        never match there (a Hindi sentence shares no term with an English question), so answer
        scoring stands in for the overlap it cannot measure (``scoring.sentence_features``)."""
        return self.multilingual and is_latin(sentence) != is_latin(self.text)

    def coverage(self, lexicon: Lexicon, text_terms: list[str]) -> float:
        """Share of the question's idf mass (context terms at their weight) that ``text_terms`` hold."""
        if not self.context_terms:
            return lexicon.coverage(self.terms, text_terms)
        weights = dict.fromkeys(self.terms, 1.0)
        for term, weight in self.context_terms.items():
            weights.setdefault(term, weight)
        total = sum(weight * lexicon.idf(term) for term, weight in weights.items())
        present = set(text_terms)
        held = sum(weight * lexicon.idf(term) for term, weight in weights.items() if term in present)
        return held / total if total else 0.0


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # the fused reciprocal-rank score


def is_latin(text: str) -> bool:
    return latin_share(text) >= 0.5


class Retriever:
    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: Embedder,
        *,
        candidates: int = 30,
        rrf_k: int = 60,
        cross_script_dense_weight: float = 0.25,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.cross_script_dense_weight = cross_script_dense_weight

    def query(self, text: str, context: Context | None = None) -> Query:
        vector = self.embedder.encode_query(text)
        weight = self.dense_weight(text)
        multilingual = self.embedder.multilingual
        if context is None:
            return Query(text, vector, tokenize(text), weight, multilingual)
        for part, part_weight in context.parts:
            vector = vector + part_weight * self.embedder.encode_query(part)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        return Query(text, vector, tokenize(text), weight, multilingual, context.term_weights())

    def dense_weight(self, text: str) -> float:
        """How far to trust the dense side for this question: fully when the model understands its
        script, else less the more of it is written outside the Latin script."""
        if self.embedder.multilingual:
            return 1.0
        return self.cross_script_dense_weight + (1 - self.cross_script_dense_weight) * latin_share(text)

    def search(self, query: Query, k: int) -> list[Hit]:
        """The ``k`` best chunks by weighted reciprocal-rank fusion of both candidate lists."""
        if not self.index.chunks:
            return []
        dense = self._dense(query)
        lexical = self._lexical(query.terms)
        fused: dict[int, float] = {}
        for rank, chunk_id in enumerate(dense, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + query.dense_weight / (self.rrf_k + rank)
        for rank, chunk_id in enumerate(lexical, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self.rrf_k + rank)
        if query.context_terms:  # a follow-up: the earlier turns' terms rank chunks too, weighted below
            weight = max(query.context_terms.values())
            for rank, chunk_id in enumerate(self._lexical(list(query.context_terms)), start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (self.rrf_k + rank)
        best = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [Hit(chunk_id, score) for chunk_id, score in best]

    def sentences(self, query: Query, n: int) -> list[int]:
        """The ``n`` sentences nearest the question, wherever their chunks ranked: on a corpus whose
        chunks all share one topic, the sentence that answers can sit in a chunk that ranks low."""
        n = min(n, len(self.index.sentences))
        if n == 0 or query.dense_weight < 1.0:
            return []
        _, ids = self.index.sentence_index.search(query.vector[None, :], n)
        return [int(i) for i in ids[0] if i >= 0]

    def _dense(self, query: Query) -> list[int]:
        n = min(self.candidates, len(self.index.chunks))
        _, ids = self.index.chunk_vectors.search(query.vector[None, :], n)
        return [int(i) for i in ids[0] if i >= 0]

    def _lexical(self, terms: list[str]) -> list[int]:
        if not terms:
            return []
        bm25 = self.index.bm25
        known = [term for term in terms if term in bm25.vocab_dict]
        if not known:
            return []
        n = min(self.candidates, len(self.index.chunks))
        ids, scores = bm25.retrieve([known], k=n, show_progress=False, n_threads=0)
        return [int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
