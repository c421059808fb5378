"""Extractive answers: pick the sentences of the retrieved passages that answer, quote them verbatim.

The bot never writes a claim of its own: the direct answer is made only of source sentences, each
followed by its citation number, and every source carries the verbatim ``quote`` it was taken from.

Each sentence of the retrieved chunks is scored by
- ``dense``: cosine similarity of the sentence to the question (precomputed sentence vectors);
- ``overlap``: the idf-weighted share of the question's terms in the sentence and its neighbours;
- ``passage``: how well its chunk ranked in retrieval;
- ``cue``: whether it holds what the question asks for (a date for "when", a number for
  "how many", a name for "who"), not counting what the question already says.
When the best sentence's relevance falls below ``min_confidence`` the bot declines instead.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import regex

from bot.core.conversation import Context
from bot.core.index import KnowledgeIndex
from bot.core.lexical import tokenize
from bot.core.question import clean_question
from bot.core.retrieval import Hit, Query, Retriever

logger = logging.getLogger(__name__)

DECLINE = "I don't know: the articles I have don't cover that."
# Tuned on SQuAD 2.0 articles 0-7 and checked on articles 8-15 (README, "Answer quality"); the
# optimum is flat, so round values near its middle.
WEIGHTS = {"dense": 0.45, "overlap": 0.65, "passage": 0.05, "cue": 0.1, "asks": 0.2}
OWN_OVERLAP_SHARE = 0.4  # the rest of the overlap credit comes from the neighbouring sentences
# Term overlap counts fully once the question's terms are this specific (Lexicon.specificity, about
# the median SQuAD question), and quadratically less below: matching "rocket" and "launch" in a
# corpus about a rocket launch says little. On SQuAD this moves the hit rate by less than 0.2 points.
SPECIFIC_QUERY = 0.5
MAX_QUOTED_SENTENCES = 3
CLOSEST_FLOOR = 0.2  # a decline points at the closest passage only when it is at least this related

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_CUES = {
    "date": regex.compile(
        rf"\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}\b|\b(?:1[0-9]|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}\b|"
        r"\b\d+(?:st|nd|rd|th)\s+century\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
        r"\b(?:जनवरी|फ़?रवरी|फरवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितं?म?बर|सितम्बर|अक्टूबर|नवं?म?बर|नवम्बर|दिसं?म?बर|दिसम्बर)\b",
        regex.IGNORECASE,
    ),
    "number": regex.compile(
        r"(?<![\p{L}\d-])\d(?:[\d,.]*\d)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|thousand|"
        r"million|billion|trillion)\b|(?:सौ|हज़ार|हजार|लाख|करोड़|करोड)(?![\p{L}\p{M}])",
        regex.IGNORECASE,
    ),
    "name": regex.compile(r"(?<!^)(?<![.!?]\s)\b\p{Lu}[\p{L}'’-]+|@\w+"),
    "place": regex.compile(r"\b(?:in|at|from|near|on|to)\s+(?:the\s+)?\p{Lu}[\p{L}'’-]+"),
}
_QUESTION_CUES = [
    (
        regex.compile(
            r"\b(?:when|what (?:year|date|day|month|time|century|decade)|how long ago)\b|\bकब\b", regex.IGNORECASE
        ),
        "date",
    ),
    (
        regex.compile(
            r"\bhow (?:many|much|long|far|big|old|fast|heavy|large|tall|high)\b|"
            r"\bwhat (?:percentage|percent|number|amount)\b|\bकितन",
            regex.IGNORECASE,
        ),
        "number",
    ),
    (
        regex.compile(
            r"\b(?:who|whom|whose)\b|\bwhich (?:astronaut|person|man|woman|company|agency)\b|"
            r"\bwhich (?:\w+ )?(?:account|handle|outlet|website|site|channel|newspaper|publication|publisher)\b|"
            r"\bकौन|\bकिसने|\bकिसके|\bकिसका|\bकिसकी|\bकिस (?:व्यक्ति|अंतरिक्ष यात्री|ट्विटर|हैंडल|अकाउंट|खाते)",
            regex.IGNORECASE,
        ),
        "name",
    ),
    (regex.compile(r"\bwhere\b|\bकहा[ँं]|\bकिस जगह", regex.IGNORECASE), "place"),
]


@dataclass(frozen=True)
class Source:
    """One cited passage. ``quote`` is exactly ``text[start:end]`` of the document ``doc_id``."""

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

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("context")
        data["score"] = round(self.score, 4)
        return data


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    text: str
    sources: list[Source] = field(default_factory=list)
    confidence: float = 0.0
    closest: Source | None = None
    problem: str | None = None

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
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


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 8
    sentence_candidates: int = 10
    answer_chars: int = 500
    follow_ratio: float = 0.8
    min_confidence: float = 0.30
    max_question_chars: int = 500


def answer_question(
    question: object, retriever: Retriever, settings: AnswerSettings, context: Context | None = None
) -> Answer:
    """The whole answering path for one question; never raises for bad input. ``context``: what a
    follow-up leans on (bot/core/conversation.py), retrieved and scored below its own words."""
    clean = clean_question(question, settings.max_question_chars)
    shown = question if isinstance(question, str) else repr(question)
    if clean.text is None:
        return Answer(shown, False, clean.problem or DECLINE, problem=clean.code)
    query = retriever.query(clean.text, context)
    hits = retriever.search(query, settings.top_k)
    if not hits:
        return Answer(clean.text, False, DECLINE)
    index = retriever.index
    extra = retriever.sentences(query, settings.sentence_candidates)
    candidates = score_sentences(index, query, gather_candidates(index, hits, extra))
    best = candidates[0]
    if best.relevance < settings.min_confidence:
        closest = _sources(index, [best])[0] if best.relevance >= CLOSEST_FLOOR else None
        return Answer(clean.text, False, DECLINE, confidence=best.relevance, closest=closest)
    chosen = _choose(index, candidates, settings)
    sources = _sources(index, chosen)
    text = _compose(index, chosen, sources, settings.answer_chars)
    return Answer(clean.text, True, text, sources, confidence=best.relevance)


@dataclass(frozen=True)
class Features:
    """Why a sentence might answer; weighed by ``WEIGHTS`` (tuned on SQuAD, see the README)."""

    dense: float
    overlap: float
    passage: float
    cue: float
    asks: float  # the sentence is itself a question, or the document's title: rarely an answer


def gather_candidates(index: KnowledgeIndex, hits: list[Hit], extra: list[int]) -> list[_Candidate]:
    """Every sentence of the retrieved chunks, then the extra sentences found on their own."""
    by_sentence: dict[int, _Candidate] = {}
    top_fused = hits[0].score
    for hit in hits:
        for sentence_id in index.chunks[hit.chunk_id].sentences:
            by_sentence.setdefault(sentence_id, _Candidate(sentence_id, hit.chunk_id, hit.score / top_fused))
    for sentence_id in extra:
        by_sentence.setdefault(sentence_id, _Candidate(sentence_id, int(index.sentence_chunk[sentence_id]), 0.0))
    return list(by_sentence.values())


def sentence_features(
    index: KnowledgeIndex, query: Query, candidates: list[_Candidate]
) -> list[tuple[_Candidate, Features]]:
    """The features of each candidate sentence."""
    ids = np.fromiter((c.sentence_id for c in candidates), dtype=np.int64)
    dense = index.sentence_vectors[ids] @ query.vector
    wanted = question_cues(query.text)
    asked = set(query.terms)
    result = []
    for candidate, cosine in zip(candidates, dense, strict=True):
        text = index.sentence_text(candidate.sentence_id)
        title = index.documents[index.sentences[candidate.sentence_id].doc_id].title
        result.append(
            (
                candidate,
                Features(
                    dense=float(cosine),
                    overlap=query.overlap(text, cosine, lambda c=candidate: _overlap(index, query, c.sentence_id)),
                    passage=candidate.passage,
                    cue=1.0 if wanted and has_cue(text, asked, wanted) else 0.0,
                    asks=1.0 if text.rstrip("\"'”’) ").endswith("?") or text.strip() == title.strip() else 0.0,
                ),
            )
        )
    return result


def score_sentences(index: KnowledgeIndex, query: Query, candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates, best first, with ``score`` and ``relevance`` set.

    ``relevance`` (dense similarity and term overlap only) decides abstention: the other features
    say which sentence answers best, not whether any does."""
    w = WEIGHTS
    dense_weight = w["dense"] * query.dense_weight
    overlap_weight = w["overlap"] * min(1.0, index.lexicon.specificity(query.terms) / SPECIFIC_QUERY) ** 2
    scored = []
    for candidate, f in sentence_features(index, query, candidates):
        candidate.relevance = (dense_weight * f.dense + overlap_weight * f.overlap) / (dense_weight + overlap_weight)
        candidate.score = (
            dense_weight * f.dense
            + overlap_weight * f.overlap
            + w["passage"] * f.passage
            + w["cue"] * f.cue
            - w["asks"] * f.asks
        )
        scored.append(candidate)
    scored.sort(key=lambda c: -c.score)
    return scored


def _overlap(index: KnowledgeIndex, query: Query, sentence_id: int) -> float:
    """Coverage by the sentence itself, with some credit for terms in its neighbours (pronouns)."""
    own = index.sentence_terms(sentence_id)
    around = list(own)
    doc_id = index.sentences[sentence_id].doc_id
    for neighbour in (sentence_id - 1, sentence_id + 1):
        if 0 <= neighbour < len(index.sentences) and index.sentences[neighbour].doc_id == doc_id:
            around.extend(index.sentence_terms(neighbour))
    lexicon = index.lexicon
    return OWN_OVERLAP_SHARE * query.coverage(lexicon, own) + (1 - OWN_OVERLAP_SHARE) * query.coverage(lexicon, around)


def question_cues(question: str) -> set[str]:
    return {cue for pattern, cue in _QUESTION_CUES if pattern.search(question)}


def has_cue(sentence: str, asked: set[str], wanted: set[str]) -> bool:
    """True when the sentence holds a span of a wanted type whose terms the question (``asked``, its
    terms) does not already hold."""
    for cue in wanted:
        for match in _CUES[cue].finditer(sentence):
            if not set(tokenize(match.group())) <= asked:
                return True
    return False


QUOTE_MARKUP = len("“” [1]")  # what quoting and citing adds to a sentence (at most 3 sources: one digit)


def _choose(index: KnowledgeIndex, candidates: list[_Candidate], settings: AnswerSettings) -> list[_Candidate]:
    """The best sentence, plus close runners-up while the composed answer stays within budget."""
    chosen = [candidates[0]]
    used = len(index.sentence_text(candidates[0].sentence_id)) + QUOTE_MARKUP
    for candidate in candidates[1:]:
        if len(chosen) == MAX_QUOTED_SENTENCES or candidate.score < settings.follow_ratio * candidates[0].score:
            break
        cost = 1 + len(index.sentence_text(candidate.sentence_id)) + QUOTE_MARKUP  # with its joining space
        if used + cost <= settings.answer_chars:
            chosen.append(candidate)
            used += cost
    return chosen


def _cited_chunks(chosen: list[_Candidate]) -> dict[int, list[_Candidate]]:
    """The chosen sentences grouped by their chunk, in order of first citation."""
    by_chunk: dict[int, list[_Candidate]] = {}
    for candidate in chosen:
        by_chunk.setdefault(candidate.chunk_id, []).append(candidate)
    return by_chunk


def _sources(index: KnowledgeIndex, chosen: list[_Candidate]) -> list[Source]:
    """One source per cited chunk, numbered by first citation; its quote spans the cited sentences."""
    by_chunk = _cited_chunks(chosen)
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
                context=document.text[chunk.start : chunk.end],
            )
        )
    return sources


def _compose(index: KnowledgeIndex, chosen: list[_Candidate], sources: list[Source], budget: int) -> str:
    """Quoted sentences, each with its citation, cut to ``budget`` characters at a word boundary."""
    number = {chunk_id: source.number for chunk_id, source in zip(_cited_chunks(chosen), sources, strict=True)}
    parts = []
    for candidate in chosen:
        parts.append((index.sentence_text(candidate.sentence_id), f" [{number[candidate.chunk_id]}]"))
    text = " ".join(f"“{quote}”{marker}" for quote, marker in parts)
    if len(text) <= budget:
        return text
    # Only a first sentence longer than the whole budget gets here (_choose adds no other then).
    quote, marker = parts[0]
    room = budget - len(marker) - 3
    cut = quote[:room].rsplit(" ", 1)[0] if " " in quote[:room] else quote[:room]
    return f"“{cut}…”{marker}"
