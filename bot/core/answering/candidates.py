"""Stage 3 of answering: the sentences that compete to answer.

Every sentence of the ``top_k`` best chunks (dense + BM25, rank-fused: ``retrieval``), then the
``sentence_candidates`` sentences nearest the question by their own vectors, wherever their chunk
ranked: when the chunks all share one topic, the sentence that answers can sit in a chunk that
ranks low.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.answering.reading import Asked
from bot.core.answering.retrieval import Hit, Retriever
from bot.core.store.index import KnowledgeIndex


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer, and the chunk it was found in."""

    sentence_id: int
    chunk_id: int
    passage: float  # its chunk's fused retrieval score relative to the best chunk (0: not retrieved)


def gather_candidates(asked: Asked, retriever: Retriever, top_k: int, sentence_candidates: int) -> list[Candidate]:
    """The candidates, in the order they were found (none when retrieval finds nothing)."""
    hits = retriever.search(asked.query, top_k)
    if not hits:
        return []
    extra = retriever.sentences(asked.query, sentence_candidates)
    return sentences_of(retriever.index, hits, extra)


def sentences_of(index: KnowledgeIndex, hits: list[Hit], extra: list[int]) -> list[Candidate]:
    """Every sentence of the retrieved chunks, then the extra sentences found on their own."""
    by_sentence: dict[int, Candidate] = {}
    top_fused = hits[0].score or 1.0  # 0 when no side had any weight (cross-script, dense weight 0)
    for hit in hits:
        for sentence_id in index.chunks[hit.chunk_id].sentences:
            by_sentence.setdefault(sentence_id, Candidate(sentence_id, hit.chunk_id, hit.score / top_fused))
    for sentence_id in extra:
        by_sentence.setdefault(sentence_id, Candidate(sentence_id, int(index.sentence_chunk[sentence_id]), 0.0))
    return list(by_sentence.values())
