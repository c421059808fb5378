"""Stage 4 of answering: score each candidate sentence, best first.

Each sentence is described by its cosine similarity to the question, the idf-weighted share of the
question's terms in it and its neighbours, its passage's rank, whether it holds the kind of answer
asked for (``answer_types``), whether it opens with a pronoun and comes with the sentence naming
its referent, and whether it is a title or a question. Two numbers come of that: ``relevance``
(similarity and term overlap only: how related the sentence is, apart from whether it answers) and
``score`` (the learned ``ranking``: which sentence answers best, quoted first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bot.core.answering import answer_types
from bot.core.answering.candidates import Candidate
from bot.core.answering.passages import antecedent, neighbours, opens_with_pronoun
from bot.core.answering.ranking import HAND_SET, Ranking, sentence_values
from bot.core.answering.reading import Asked
from bot.core.store.index import KnowledgeIndex

# Relevance (how related a sentence is, apart from whether it answers): the similarity and the
# term overlap in this proportion (tuned on SQuAD 2.0 articles 0-7, checked on 8-15).
RELEVANCE_DENSE, RELEVANCE_OVERLAP = 0.45, 0.65
OWN_OVERLAP_SHARE = 0.4  # the rest of the overlap credit comes from the neighbouring sentences
# Term overlap counts fully once the question's terms are this specific (Lexicon.specificity, about
# the median SQuAD question), and quadratically less below: matching "rocket" and "launch" in a
# corpus about a rocket launch says little.
SPECIFIC_QUERY = 0.5


@dataclass(frozen=True)
class Features:
    """Why a sentence might answer (the ranking reads these, ``rank_values``)."""

    dense: float
    overlap: float
    passage: float
    cue: float  # holds the kind of answer asked for (1: the first kind, 0.5: a fallback kind)
    asks: float  # the sentence is itself a question, or the document's title: rarely an answer
    cue_around: float = 0.0  # a neighbour holds it
    cross: bool = False  # in the other script than the question (``Query.crosses``)
    pronoun: bool = False  # opens with a pronoun
    antecedent: bool = False  # ... and is quoted with the sentence before it, which names the referent


@dataclass(frozen=True)
class Scored:
    """A candidate with what scoring found: its ``features``, its ``relevance`` and its ``score``."""

    sentence_id: int
    chunk_id: int
    features: Features
    relevance: float
    values: dict[str, float]  # what the ranking read (ranking.RANK_FEATURES)
    score: float
    reader: float | None = None  # the reader's logit, when it read this sentence (``reader``)

    @property
    def answers(self) -> bool:
        """The reader read this sentence and says it answers."""
        return self.reader is not None and self.reader >= 0.0


def score_sentences(
    index: KnowledgeIndex, asked: Asked, candidates: list[Candidate], ranking: Ranking = HAND_SET
) -> list[Scored]:
    """The candidates scored, best first (equal scores keep the order they were found in)."""
    dense_weight = RELEVANCE_DENSE * asked.query.dense_weight
    specific = min(1.0, asked.lexicon.specificity(asked.terms) / SPECIFIC_QUERY) ** 2
    overlap_weight = RELEVANCE_OVERLAP * specific
    total = dense_weight + overlap_weight
    scored = []
    for candidate, f in zip(candidates, sentence_features(index, asked, candidates), strict=True):
        # No weight at all (cross-script question of stop words only): nothing relates.
        relevance = (dense_weight * f.dense + overlap_weight * f.overlap) / total if total > 0 else 0.0
        values = rank_values(index, asked, candidate.sentence_id, f, specific)
        scored.append(Scored(candidate.sentence_id, candidate.chunk_id, f, relevance, values, ranking.score(values)))
    scored.sort(key=lambda c: -c.score)
    return scored


def sentence_features(index: KnowledgeIndex, asked: Asked, candidates: list[Candidate]) -> list[Features]:
    """The features of each candidate sentence.

    A sentence in the other script (with a multilingual model) shares no term with the question, so
    what term matching would say is taken from the evidence there is: its overlap is its similarity,
    and an answer of the kind asked counts as next to the question's words (nearness cannot be seen
    across scripts)."""
    ids = np.fromiter((c.sentence_id for c in candidates), dtype=np.int64)
    dense = [float(v) for v in index.sentence_vectors[ids] @ asked.query.vector]
    texts = [index.sentence_text(c.sentence_id) for c in candidates]
    crosses = [asked.query.crosses(text) for text in texts]
    measured = [0.0 if x else _overlap(index, asked, c.sentence_id) for c, x in zip(candidates, crosses, strict=True)]
    asked_terms = set(asked.query.terms)
    result = []
    for candidate, cosine, text, cross, overlap in zip(candidates, dense, texts, crosses, measured, strict=True):
        title = index.documents[index.sentences[candidate.sentence_id].doc_id].title
        pronoun = opens_with_pronoun(text)
        named_before = pronoun and antecedent(index, candidate.sentence_id) is not None
        cue = around = 0.0
        if asked.types:
            cue = answer_types.holds(text, asked.types, asked_terms)
            nearby = neighbours(index, candidate.sentence_id)
            around = max(
                (answer_types.holds(index.sentence_text(n), asked.types, asked_terms) for n in nearby), default=0.0
            )
            if named_before:  # quoted together: "He" is named there
                cue = max(
                    cue, answer_types.holds(index.sentence_text(candidate.sentence_id - 1), asked.types, asked_terms)
                )
            if cross and cue == answer_types.FAR:
                cue = 1.0
        result.append(
            Features(
                dense=cosine,
                overlap=max(0.0, cosine) if cross else overlap,
                passage=candidate.passage,
                cue=cue,
                asks=1.0 if text.rstrip("\"'”’) ").endswith("?") or text.strip() == title.strip() else 0.0,
                cue_around=around,
                cross=cross,
                pronoun=pronoun,
                antecedent=named_before,
            )
        )
    return result


def rank_values(
    index: KnowledgeIndex, asked: Asked, sentence_id: int, f: Features, specific: float
) -> dict[str, float]:
    """What the ranking reads of one candidate (``ranking.RANK_FEATURES``)."""
    return sentence_values(
        dense=asked.query.dense_weight * f.dense,
        overlap=specific * f.overlap,
        passage=f.passage,
        cue=f.cue,
        cue_around=f.cue_around,
        typed=bool(asked.types),
        asks=f.asks,
        pronoun=float(f.pronoun),
        antecedent=float(f.antecedent),
        length=float(len(index.sentence_text(sentence_id))),
        cross=float(f.cross),
    )


def _overlap(index: KnowledgeIndex, asked: Asked, sentence_id: int) -> float:
    """Coverage by the sentence itself, with some credit for terms in its neighbours (pronouns)."""
    own = asked.sentence_terms(index, sentence_id)
    around = list(own)
    for neighbour in neighbours(index, sentence_id):
        around.extend(asked.sentence_terms(index, neighbour))
    return OWN_OVERLAP_SHARE * _coverage(asked, own) + (1 - OWN_OVERLAP_SHARE) * _coverage(asked, around)


def _coverage(asked: Asked, text_terms: list[str]) -> float:
    """Share of the question's idf mass in ``text_terms``; a follow-up's context terms count at
    their (lower) weight."""
    if asked.query.context_terms:
        return replace(asked.query, terms=asked.terms).coverage(asked.lexicon, text_terms)
    return asked.lexicon.coverage(asked.terms, text_terms)
