"""Extractive answers: pick the sentences of the retrieved passages that answer, quote them verbatim.

The bot never writes a claim of its own: the direct answer is made only of source sentences, each
quote followed by its citation number, and every source carries the verbatim ``quote`` it was taken
from. ``answer_question`` runs four steps, each a function of its own:

1. **read and retrieve** (``read_question``, ``retrieve``): the question is spell-corrected against
   the corpus vocabulary, its terms folded through the maintainers' aliases, and the sentences of
   the best passages gathered;
2. **score** (``score_sentences``): each sentence by its cosine similarity to the question, the
   idf-weighted share of the question's terms in it and its neighbours, its passage's rank, whether
   it holds the kind of answer asked for (``answer_types``), and a penalty for titles and questions;
3. **decide** (``decide``): whether the best sentence answers at all, by the calibrated
   answerability model (``answerability``) over what the ranking knows;
4. **compose** (``compose``): the answer-holding sentence first, a sentence that opens with a
   pronoun together with the sentence naming its referent, further quotes of one passage in
   document order.

Questions about the articles themselves (who wrote one, which outlet) are answered from their
details (``metadata``) before any of this.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import regex

from bot.core.answering import answer_types, metadata
from bot.core.answering.aliases import Aliases
from bot.core.answering.answerability import Decider
from bot.core.answering.conversation import Context
from bot.core.answering.question import clean_question
from bot.core.answering.ranking import HAND_SET, Ranking, sentence_values
from bot.core.answering.retrieval import Hit, Query, Retriever
from bot.core.answering.typos import Speller
from bot.core.ingest.lexical import Lexicon, latin_share
from bot.core.store.index import KnowledgeIndex

logger = logging.getLogger(__name__)

DECLINE = "I don't know: the articles I have don't cover that."
NO_DETAIL = "I don't know: the articles' details don't include their {label}."
# Relevance (how related a sentence is, apart from whether it answers): the similarity and the
# term overlap in this proportion (tuned on SQuAD 2.0 articles 0-7, checked on 8-15).
RELEVANCE_DENSE, RELEVANCE_OVERLAP = 0.45, 0.65
OWN_OVERLAP_SHARE = 0.4  # the rest of the overlap credit comes from the neighbouring sentences
# Term overlap counts fully once the question's terms are this specific (Lexicon.specificity, about
# the median SQuAD question), and quadratically less below: matching "rocket" and "launch" in a
# corpus about a rocket launch says little.
SPECIFIC_QUERY = 0.5
SPECIFIC_TERMS = 3  # the question's most specific terms, whose coverage the decision reads
MAX_QUOTED_SENTENCES = 3
CLOSEST_FLOOR = 0.2  # a decline points at the closest passage only when it is at least this related
# A sentence opening with one of these leans on the sentence before it for its subject.
_PRONOUN_START = regex.compile(
    r"^[\"'“‘(]*(?:he|she|it|they|his|her|its|their|this|these|those|that|them|him|there|such|the latter|the former)\b"
    r"(?![\p{L}-])",
    regex.IGNORECASE,
)

ARTICLES, DETAILS = "articles", "details"
DETAILS_LABEL = "From the article's details:"  # what front ends print before an answer from details
NO_ALIASES = Aliases()
RELEVANCE_ONLY = Decider(None, 0.30)  # no calibration: the relevance threshold


@dataclass(frozen=True)
class Source:
    """One cited passage. For a ``kind == "text"`` source ``quote`` is exactly ``text[start:end]`` of
    the document ``doc_id``; a ``"detail"`` source quotes a front-matter field (``start == -1``)."""

    number: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    url: str | None = None
    publisher: str | None = None
    published: str | None = None
    context: str = ""
    kind: str = "text"

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("context")
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class Answer:
    """``text`` holds only “quotes” and [n] citations when answered. ``basis`` says where the quotes
    come from: the articles' text, or their details (front matter: author, outlet), which front ends
    label "From the article's details"."""

    question: str
    answered: bool
    text: str
    sources: list[Source] = field(default_factory=list)
    confidence: float = 0.0
    closest: Source | None = None
    problem: str | None = None
    basis: str = ARTICLES
    assessment: dict[str, float] | None = field(default=None, compare=False, repr=False)  # the decision's inputs

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "basis": self.basis,
            "sources": [source.to_json() for source in self.sources],
            "confidence": round(self.confidence, 4),
            "closest": self.closest.to_json() if self.closest else None,
            "problem": self.problem,
        }


@dataclass
class _Candidate:
    sentence_id: int
    chunk_id: int
    passage: float  # its chunk's fused retrieval score relative to the best chunk (0: not retrieved)
    score: float = 0.0
    relevance: float = 0.0
    features: Features | None = None
    values: dict[str, float] = field(default_factory=dict)  # what the ranking read (ranking.RANK_FEATURES)


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 8
    sentence_candidates: int = 10
    answer_chars: int = 500
    follow_ratio: float = 0.7
    min_confidence: float = 0.30
    max_question_chars: int = 500


@dataclass(frozen=True)
class Asked:
    """The question as the bot reads it. ``query`` goes to retrieval (its terms expanded with every
    alias); ``terms`` are for overlap (each alias group one term, scored by ``lexicon``)."""

    text: str
    query: Query
    terms: list[str]
    lexicon: Lexicon
    types: tuple[str, ...]
    kind: str
    aliases: Aliases = NO_ALIASES
    corrections: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Helpers:
    """What answering uses besides the index: the maintainers' aliases and a speller for the corpus."""

    aliases: Aliases = NO_ALIASES
    speller: Speller | None = None
    decider: Decider = RELEVANCE_ONLY
    ranking: Ranking = HAND_SET

    @classmethod
    def for_index(
        cls, index: KnowledgeIndex, aliases: Aliases, decider: Decider, ranking: Ranking = HAND_SET
    ) -> Helpers:
        speller = Speller(lambda: (index.sentence_text(i) for i in range(len(index.sentences))))
        return cls(aliases, speller, decider, ranking)


def answer_question(
    question: object,
    retriever: Retriever,
    settings: AnswerSettings,
    context: Context | None = None,
    helpers: Helpers | None = None,
) -> Answer:
    """The whole answering path for one question; never raises for bad input. ``context``: what a
    follow-up leans on (bot/core/answering/conversation.py), retrieved and scored below its own words."""
    helpers = helpers or Helpers(decider=Decider(None, settings.min_confidence))
    clean = clean_question(question, settings.max_question_chars)
    shown = question if isinstance(question, str) else repr(question)
    if clean.text is None:
        return Answer(shown, False, clean.problem or DECLINE, problem=clean.code)
    index = retriever.index
    intent = metadata.metadata_intent(clean.text)
    if intent is not None:
        return answer_from_details(clean.text, intent, index)
    asked = read_question(clean.text, retriever, helpers, context)
    candidates = retrieve(asked, retriever, settings)
    if not candidates:
        return Answer(clean.text, False, DECLINE)
    ranked = score_sentences(index, asked, candidates, helpers.ranking)
    values = decision_features(index, asked, ranked)
    own_words_known = any(asked.lexicon.known(term) for term in asked.terms)
    answers, confidence = decide(values, helpers.decider, bool(asked.query.context_terms), own_words_known)
    if not answers:
        nearest = max(ranked, key=lambda c: c.relevance)  # the most related, whether or not it answers
        closest = _sources(index, [[nearest]])[0] if nearest.relevance >= CLOSEST_FLOOR else None
        return Answer(clean.text, False, DECLINE, confidence=confidence, closest=closest, assessment=values)
    quotes = compose(index, ranked, settings)
    sources = _sources(index, quotes)
    text = _text(index, quotes, sources, settings.answer_chars)
    return Answer(clean.text, True, text, sources, confidence, assessment=values)


def ranking_candidates(
    question: str, retriever: Retriever, settings: AnswerSettings, helpers: Helpers
) -> list[tuple[str, dict[str, float]]]:
    """Every candidate sentence of a question with what the ranking reads of it (``make calibrate``
    fits the ranking weights on these)."""
    asked = read_question(question, retriever, helpers)
    candidates = retrieve(asked, retriever, settings)
    ranked = score_sentences(retriever.index, asked, candidates, helpers.ranking) if candidates else []
    return [(retriever.index.sentence_text(c.sentence_id), c.values) for c in ranked]


# --------------------------------------------------------------------------- 1. read and retrieve


def read_question(text: str, retriever: Retriever, helpers: Helpers, context: Context | None = None) -> Asked:
    corrected = helpers.speller.correct(text) if helpers.speller else None
    reading = corrected.text if corrected else text
    query = retriever.query(reading, context)
    own = query.terms
    # A follow-up's context terms come unfolded from earlier quotes: fold nothing, so they still meet
    # the sentences' own words (aliases then only widen retrieval).
    aliases = helpers.aliases if not query.context_terms else NO_ALIASES
    query = replace(query, terms=helpers.aliases.expand(own))
    return Asked(
        text=reading,
        query=query,
        terms=aliases.canonical(own),
        lexicon=aliases.lexicon(retriever.index.lexicon),
        types=answer_types.asked_types(reading),
        kind=answer_types.question_kind(reading),
        aliases=aliases,
        corrections=corrected.changes if corrected else (),
    )


def retrieve(asked: Asked, retriever: Retriever, settings: AnswerSettings) -> list[_Candidate]:
    hits = retriever.search(asked.query, settings.top_k)
    if not hits:
        return []
    extra = retriever.sentences(asked.query, settings.sentence_candidates)
    return gather_candidates(retriever.index, hits, extra)


def gather_candidates(index: KnowledgeIndex, hits: list[Hit], extra: list[int]) -> list[_Candidate]:
    """Every sentence of the retrieved chunks, then the extra sentences found on their own."""
    by_sentence: dict[int, _Candidate] = {}
    top_fused = hits[0].score or 1.0  # 0 when no side had any weight (cross-script, dense weight 0)
    for hit in hits:
        for sentence_id in index.chunks[hit.chunk_id].sentences:
            by_sentence.setdefault(sentence_id, _Candidate(sentence_id, hit.chunk_id, hit.score / top_fused))
    for sentence_id in extra:
        by_sentence.setdefault(sentence_id, _Candidate(sentence_id, int(index.sentence_chunk[sentence_id]), 0.0))
    return list(by_sentence.values())


# --------------------------------------------------------------------------- 2. score


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


def _neighbours(index: KnowledgeIndex, sentence_id: int) -> list[int]:
    doc_id = index.sentences[sentence_id].doc_id
    return [
        n
        for n in (sentence_id - 1, sentence_id + 1)
        if 0 <= n < len(index.sentences) and index.sentences[n].doc_id == doc_id
    ]


def sentence_features(index: KnowledgeIndex, asked: Asked, candidates: list[_Candidate]) -> list[Features]:
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
        antecedent = pronoun and _antecedent(index, candidate.sentence_id) is not None
        cue = around = 0.0
        if asked.types:
            cue = answer_types.holds(text, asked.types, asked_terms)
            nearby = _neighbours(index, candidate.sentence_id)
            around = max(
                (answer_types.holds(index.sentence_text(n), asked.types, asked_terms) for n in nearby), default=0.0
            )
            if antecedent:  # quoted together: "He" is named there
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
                antecedent=antecedent,
            )
        )
    return result


def score_sentences(
    index: KnowledgeIndex, asked: Asked, candidates: list[_Candidate], ranking: Ranking = HAND_SET
) -> list[_Candidate]:
    """The candidates, best first, with ``score``, ``relevance`` and ``features`` set.

    ``relevance`` (dense similarity and term overlap only) is how related a sentence is; ``score``
    (``ranking``) says which sentence answers best."""
    dense_weight = RELEVANCE_DENSE * asked.query.dense_weight
    specific = min(1.0, asked.lexicon.specificity(asked.terms) / SPECIFIC_QUERY) ** 2
    overlap_weight = RELEVANCE_OVERLAP * specific
    total = dense_weight + overlap_weight
    for candidate, f in zip(candidates, sentence_features(index, asked, candidates), strict=True):
        candidate.features = f
        # No weight at all (cross-script question of stop words only): nothing relates.
        candidate.relevance = (dense_weight * f.dense + overlap_weight * f.overlap) / total if total > 0 else 0.0
        candidate.values = rank_values(index, asked, candidate, specific)
        candidate.score = ranking.score(candidate.values)
    candidates.sort(key=lambda c: -c.score)
    return candidates


def rank_values(index: KnowledgeIndex, asked: Asked, candidate: _Candidate, specific: float) -> dict[str, float]:
    """What the ranking reads of one scored candidate (``ranking.RANK_FEATURES``)."""
    f = candidate.features
    assert f is not None
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
        length=float(len(index.sentence_text(candidate.sentence_id))),
        cross=float(f.cross),
    )


def _sentence_terms(index: KnowledgeIndex, asked: Asked, sentence_id: int) -> list[str]:
    return asked.aliases.canonical(index.sentence_terms(sentence_id))


def _overlap(index: KnowledgeIndex, asked: Asked, sentence_id: int) -> float:
    """Coverage by the sentence itself, with some credit for terms in its neighbours (pronouns)."""
    own = _sentence_terms(index, asked, sentence_id)
    around = list(own)
    for neighbour in _neighbours(index, sentence_id):
        around.extend(_sentence_terms(index, asked, neighbour))
    return OWN_OVERLAP_SHARE * _coverage(asked, own) + (1 - OWN_OVERLAP_SHARE) * _coverage(asked, around)


def _coverage(asked: Asked, text_terms: list[str]) -> float:
    """Share of the question's idf mass in ``text_terms``; a follow-up's context terms count at
    their (lower) weight."""
    if asked.query.context_terms:
        return replace(asked.query, terms=asked.terms).coverage(asked.lexicon, text_terms)
    return asked.lexicon.coverage(asked.terms, text_terms)


# --------------------------------------------------------------------------- 3. decide


def decision_features(index: KnowledgeIndex, asked: Asked, ranked: list[_Candidate]) -> dict[str, float]:
    """What the answerability model reads about the best sentence (``answerability.FEATURES``)."""
    best = ranked[0]
    f = best.features
    lexicon = asked.lexicon
    # A follow-up's context terms (earlier turns) count as the question's: "when did it dock?"
    unique = list(dict.fromkeys([*asked.terms, *asked.query.context_terms]))
    specific = sorted(unique, key=lambda t: -lexicon.idf(t))[:SPECIFIC_TERMS]
    own = _sentence_terms(index, asked, best.sentence_id)
    around = list(own)
    for neighbour in _neighbours(index, best.sentence_id):
        around.extend(_sentence_terms(index, asked, neighbour))
    chunk_terms: list[str] = []
    for sentence_id in index.chunks[best.chunk_id].sentences:
        chunk_terms.extend(_sentence_terms(index, asked, sentence_id))
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
    return values


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
    best: _Candidate,
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
        " ".join(index.sentence_text(i) for i in [best.sentence_id, *_neighbours(index, best.sentence_id)])
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


def decide(
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


# --------------------------------------------------------------------------- 4. compose

QUOTE_MARKUP = len("“” [1]")  # what quoting and citing adds to a quote (at most 3 sources: one digit)


def opens_with_pronoun(text: str) -> bool:
    return bool(_PRONOUN_START.match(text))


def _antecedent(index: KnowledgeIndex, sentence_id: int) -> int | None:
    """The sentence before, when ``sentence_id`` opens with a pronoun and that one is indexed text of
    the same paragraph (nothing but spaces between them)."""
    if sentence_id == 0 or not opens_with_pronoun(index.sentence_text(sentence_id)):
        return None
    return sentence_id - 1 if _adjacent(index, sentence_id - 1, sentence_id) else None


def compose(index: KnowledgeIndex, ranked: list[_Candidate], settings: AnswerSettings) -> list[list[_Candidate]]:
    """The quotes to show, in order: runs of consecutive sentences (one quote each).

    The best sentence leads (with the sentence naming its subject when it opens with a pronoun);
    close runners-up follow while the answer stays within budget, each passage's quotes in
    document order. A runner-up that opens with a pronoun comes only with its antecedent."""
    best = ranked[0]
    by_id = {c.sentence_id: c for c in ranked}
    lead = [best.sentence_id]
    before = _antecedent(index, best.sentence_id)
    if before is not None:
        lead.insert(0, before)
    chosen = set(lead)
    used = _cost(index, lead)
    for candidate in ranked[1:]:
        if len(chosen) >= MAX_QUOTED_SENTENCES or candidate.score < settings.follow_ratio * best.score:
            break
        if candidate.sentence_id in chosen:
            continue
        wanted = [candidate.sentence_id]
        before = _antecedent(index, candidate.sentence_id)
        if before is not None and before not in chosen:
            wanted.insert(0, before)
        if len(chosen) + len(wanted) > MAX_QUOTED_SENTENCES:
            continue
        cost = _cost(index, sorted(chosen | set(wanted))) - _cost(index, sorted(chosen))
        if used + cost <= settings.answer_chars:
            chosen.update(wanted)
            used += cost
    runs = _runs(index, sorted(chosen))
    lead_run = next(run for run in runs if best.sentence_id in run)
    rest = [run for run in runs if run is not lead_run]
    order = {index.sentence_chunk[best.sentence_id]: 0}
    for candidate in ranked:
        order.setdefault(index.sentence_chunk[candidate.sentence_id], len(order))
    rest.sort(key=lambda run: (order.get(index.sentence_chunk[run[0]], len(order)), run[0]))
    chunk_of = {sid: by_id[sid].chunk_id if sid in by_id else int(index.sentence_chunk[sid]) for sid in chosen}
    chunk_of.update({sid: best.chunk_id for sid in lead_run})
    return [
        [_Candidate(sid, chunk_of[sid], 0.0, relevance=_relevance(by_id, sid)) for sid in run]
        for run in [lead_run, *rest]
    ]


def _relevance(by_id: dict[int, _Candidate], sentence_id: int) -> float:
    return by_id[sentence_id].relevance if sentence_id in by_id else 0.0


def _runs(index: KnowledgeIndex, ids: list[int]) -> list[list[int]]:
    """Sorted sentence ids grouped into runs that read as one passage (adjacent, same paragraph)."""
    runs: list[list[int]] = []
    for sentence_id in ids:
        if runs and runs[-1][-1] == sentence_id - 1 and _adjacent(index, sentence_id - 1, sentence_id):
            runs[-1].append(sentence_id)
        else:
            runs.append([sentence_id])
    return runs


def _adjacent(index: KnowledgeIndex, first: int, second: int) -> bool:
    """Whether two sentences follow each other in one paragraph (only spaces between them)."""
    a, b = index.sentences[first], index.sentences[second]
    if a.doc_id != b.doc_id:
        return False
    gap = index.documents[a.doc_id].text[a.end : b.start]
    return "\n" not in gap and not gap.strip()


def _cost(index: KnowledgeIndex, ids: list[int]) -> int:
    """Characters the quotes of these sentences take in the answer, markup and spaces included."""
    runs = _runs(index, sorted(ids))
    total = 0
    for run in runs:
        first, last = index.sentences[run[0]], index.sentences[run[-1]]
        total += last.end - first.start + QUOTE_MARKUP
    return total + max(0, len(runs) - 1)


def _sources(index: KnowledgeIndex, quotes: list[list[_Candidate]]) -> list[Source]:
    """One source per cited chunk, numbered by first citation; its quote spans the cited sentences."""
    by_chunk: dict[int, list[_Candidate]] = {}
    for run in quotes:
        by_chunk.setdefault(run[0].chunk_id, []).extend(run)
    sources = []
    for number, (chunk_id, cited) in enumerate(by_chunk.items(), start=1):
        chunk = index.chunks[chunk_id]
        document = index.documents[chunk.doc_id]
        start = min(index.sentences[c.sentence_id].start for c in cited)
        end = max(index.sentences[c.sentence_id].end for c in cited)
        sources.append(
            Source(
                number=number,
                doc_id=document.doc_id,
                title=document.title,
                quote=document.text[start:end],
                start=start,
                end=end,
                score=max(c.relevance for c in cited),
                url=document.url,
                publisher=document.publisher,
                published=document.published,
                context=document.text[min(start, chunk.start) : max(end, chunk.end)],
            )
        )
    return sources


def _text(index: KnowledgeIndex, quotes: list[list[_Candidate]], sources: list[Source], budget: int) -> str:
    """Each quote with its citation, cut to ``budget`` characters at a word boundary."""
    number = {}
    for run in quotes:
        number.setdefault(run[0].chunk_id, len(number) + 1)
    parts = []
    for run in quotes:
        first, last = index.sentences[run[0].sentence_id], index.sentences[run[-1].sentence_id]
        quote = index.documents[first.doc_id].text[first.start : last.end]
        parts.append((quote, f" [{number[run[0].chunk_id]}]"))
    text = " ".join(f"“{quote}”{marker}" for quote, marker in parts)
    if len(text) <= budget:
        return text
    # Only a lead quote longer than the whole budget gets here (compose adds no other then).
    quote, marker = parts[0]
    room = budget - len(marker) - 3
    cut = quote[:room].rsplit(" ", 1)[0] if " " in quote[:room] else quote[:room]
    return f"“{cut}…”{marker}"


# --------------------------------------------------------------------------- details


def answer_from_details(question: str, intent: str, index: KnowledgeIndex) -> Answer:
    """A question about the articles (author, outlet, date, which ones), answered from their details."""
    documents = list(index.documents.values())
    details = metadata.find_details(question, intent, documents)
    if not details:
        return Answer(question, False, NO_DETAIL.format(label=metadata.LABELS[intent]), basis=DETAILS)
    sources = []
    for number, detail in enumerate(details[:MAX_QUOTED_SENTENCES], start=1):
        document = detail.document
        sources.append(
            Source(
                number=number,
                doc_id=document.doc_id,
                title=document.title,
                quote=detail.quote,
                start=detail.start,
                end=detail.end,
                score=1.0,
                url=document.url,
                publisher=document.publisher,
                published=document.published,
                context=detail.quote,
                kind="text" if detail.in_text else "detail",
            )
        )
    text = " ".join(f"“{source.quote}” [{source.number}]" for source in sources)
    return Answer(question, True, text, sources, confidence=1.0, basis=DETAILS)
