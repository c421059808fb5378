"""Stage 5 of answering: whether the best sentence answers at all.

The calibrated answerability model (``answerability``) reads what the ranking knows about the best
sentence and more: the margin over the runner-up, whether the question's most specific terms are in
it and around it, names and numbers of the question missing from its passage, negation, the kind of
answer asked for and whether it holds one (``decision_features``). Two rules stand outside the model
(``answerable``), and a follow-up is judged by the same model with one rule of its own.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import regex

from bot.core.answering import answer_types
from bot.core.answering.answerability import Decider
from bot.core.answering.passages import neighbours
from bot.core.answering.reading import Asked
from bot.core.answering.scoring import Scored
from bot.core.ingest.lexical import latin_share
from bot.core.store.index import KnowledgeIndex

SPECIFIC_TERMS = 3  # the question's most specific terms, whose coverage the decision reads


@dataclass(frozen=True)
class Decision:
    """Whether to answer, how confident the model is that the best sentence answers, and what it
    read to say so (``answerability.FEATURES``: kept with the answer for ``make calibrate``)."""

    answers: bool
    confidence: float
    values: dict[str, float]


def decide(index: KnowledgeIndex, asked: Asked, ranked: list[Scored], decider: Decider) -> Decision:
    values = decision_features(index, asked, ranked)
    own_words_known = any(asked.lexicon.known(term) for term in asked.terms)
    answers, confidence = answerable(values, decider, bool(asked.query.context_terms), own_words_known)
    return Decision(answers, confidence, values)


def decision_features(index: KnowledgeIndex, asked: Asked, ranked: list[Scored]) -> dict[str, float]:
    """What the answerability model reads about the best sentence (``answerability.FEATURES``)."""
    best = ranked[0]
    f = best.features
    lexicon = asked.lexicon
    # A follow-up's context terms (earlier turns) count as the question's: "when did it dock?"
    unique = list(dict.fromkeys([*asked.terms, *asked.query.context_terms]))
    specific = sorted(unique, key=lambda t: -lexicon.idf(t))[:SPECIFIC_TERMS]
    own = asked.sentence_terms(index, best.sentence_id)
    around = list(own)
    for neighbour in neighbours(index, best.sentence_id):
        around.extend(asked.sentence_terms(index, neighbour))
    chunk_terms: list[str] = []
    for sentence_id in index.chunks[best.chunk_id].sentences:
        chunk_terms.extend(asked.sentence_terms(index, sentence_id))
    present = set(around)
    missing = [lexicon.idf(t) for t in unique if t not in present]
    total_idf = sum(lexicon.idf(t) for t in unique)
    unknown = sum(lexicon.idf(t) for t in unique if not lexicon.known(t))
    runner_up = ranked[1] if len(ranked) > 1 else None
    question_latin = latin_share(asked.text)
    sentence_latin = latin_share(index.sentence_text(best.sentence_id))
    values = {
        "relevance": best.relevance,
        "dense": f.dense,
        "overlap": f.overlap,
        "margin": best.score - runner_up.score if runner_up else best.score,
        "runner_up_relevance": runner_up.relevance if runner_up else 0.0,
        "specific_own": lexicon.coverage(specific, own),
        "specific_around": lexicon.coverage(specific, around),
        "missing_idf": max(missing, default=0.0) / lexicon.rarest,
        "unknown_share": unknown / total_idf if total_idf else 0.0,
        "chunk_coverage": lexicon.coverage(unique, chunk_terms),
        "type_asked": 1.0 if asked.types else 0.0,
        "type_held": f.cue,
        "type_held_around": max(f.cue, f.cue_around),
        "type_in_top": max((c.features.cue for c in ranked[:3]), default=0.0),
        "question_latin": question_latin,
        "sentence_latin": sentence_latin,
        "script_gap": abs(question_latin - sentence_latin),
        "content_terms": float(np.log1p(len(unique))),
        "stopwords_only": 0.0 if unique else 1.0,
        "specificity": lexicon.specificity(unique),
        "passage": f.passage,
        "asks": f.asks,
    }
    for kind in answer_types.KINDS:
        values[f"kind_{kind}"] = 1.0 if asked.kind == kind else 0.0
    values.update(_alignment(index, asked, best, unique, own, around, chunk_terms))
    values.update(_reading(ranked))
    return values


def _reading(ranked: list[Scored]) -> dict[str, float]:
    """What the reader said: of the best sentence (its clipped logit; 0 and ``reader_read`` 0 when
    it was not read), and the most it said of any sentence it read."""
    read = [c.values["reader"] for c in ranked if c.reader is not None]
    best = ranked[0]
    return {
        "reader": best.values.get("reader", 0.0) if best.reader is not None else 0.0,
        "reader_read": 1.0 if best.reader is not None else 0.0,
        "reader_max": max(read, default=0.0),
        "reader_any": 1.0 if read else 0.0,
    }


_NEGATION = regex.compile(r"\b(?:not|never|no|none|nothing|neither|nor|without|cannot)\b|n't\b", regex.IGNORECASE)
# Words that narrow a question to one of several things ("the first", "the largest"): a question
# made unanswerable often adds or swaps one, and the sentence then lacks it.
_DEGREE = frozenset(
    """first second third last largest smallest biggest most least highest lowest earliest latest oldest
    newest longest shortest best worst only main major primary former current original final next previous
    early late before after""".split()
)
_NAME_OR_NUMBER = regex.compile(r"(?<!^)(?<![.?!]\s)\b\p{Lu}[\p{L}\p{M}'’-]*|\b\d[\d,.]*\b")


def _alignment(
    index: KnowledgeIndex,
    asked: Asked,
    best: Scored,
    unique: list[str],
    own: list[str],
    around: list[str],
    chunk_terms: list[str],
) -> dict[str, float]:
    """How closely the best sentence lines up with the question beyond shared vocabulary: every term
    counted alike, names and numbers of the question missing from its passage, adjacent term pairs
    of the question found together, and negation (questions built to be unanswerable often negate)."""
    own_set, around_set, chunk_set = set(own), set(around), set(chunk_terms)
    n = max(len(unique), 1)
    passage = _fold(index.chunk_text(best.chunk_id) + " " + index.sentence_text(best.sentence_id))
    names = [m.group() for m in _NAME_OR_NUMBER.finditer(asked.text)]
    missing_names = [name for name in names if _fold(name) not in passage]
    asked_words = set(regex.findall(r"\p{L}+", asked.text.casefold()))
    around_text = _fold(
        " ".join(index.sentence_text(i) for i in [best.sentence_id, *neighbours(index, best.sentence_id)])
    )
    around_words = set(regex.findall(r"\p{L}+", around_text))
    degree = asked_words & _DEGREE
    pairs = list(itertools.pairwise(asked.terms))
    around_pairs = set(itertools.pairwise(around)) | set(zip(around, around[2:], strict=False))
    return {
        "own_share": sum(t in own_set for t in unique) / n,
        "around_share": sum(t in around_set for t in unique) / n,
        "chunk_missing": float(sum(t not in chunk_set for t in unique)),
        "names_missing": float(len(missing_names)),
        "names_missing_share": len(missing_names) / len(names) if names else 0.0,
        "pair_share": sum(p in around_pairs for p in pairs) / len(pairs) if pairs else 0.0,
        "negation": 1.0 if _NEGATION.search(asked.text) else 0.0,
        "negation_unmatched": 1.0 if _NEGATION.search(asked.text) and not _NEGATION.search(around_text) else 0.0,
        "degree_missing": float(len(degree - around_words)),
        "type_missing": 1.0 if asked.types and not best.features.cue_around and not best.features.cue else 0.0,
        "question_length": float(np.log1p(len(asked.text.split()))),
    }


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def answerable(
    values: dict[str, float], decider: Decider, follow_up: bool = False, own_words_known: bool = True
) -> tuple[bool, float]:
    """(answer?, confidence). Never answered: a question with no content term (only stop words), and
    one none of whose terms the articles ever use ("Who is the CEO of SpaceX?"): nothing but a
    similarity would support a quote (in SQuAD and the launch set, no such question is answerable).

    A follow-up is judged by the same model, its earlier turns' terms counting as its own, with one
    rule of its own: when none of its own words is one the articles use ("When did it dock?", "How
    do I bake it?"), all it can ask is something about the earlier subject, so it is answered only
    if it asks for a kind of answer (a date, a place…) and the quote holds it. Context alone never
    makes a question answerable."""
    if values["stopwords_only"] or values["unknown_share"] >= 1.0:
        return False, 0.0
    confidence = decider.confidence(values)
    if follow_up and not own_words_known and not (values["type_asked"] and values["type_held"]):
        return False, confidence
    return confidence >= decider.threshold, confidence
