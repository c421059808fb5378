"""Stage 6 of answering: the answer, made only of quoted sentences, and its numbered sources.

The best sentence comes first; one that opens with a pronoun ("He set a camera…") is quoted together
with the sentence before it, which names whom it means. Close runners-up (``follow_ratio`` of the
best score) follow while the answer stays within its budget, adjacent sentences as one quote, each
passage's quotes in document order. Every source carries the verbatim ``quote`` it was taken from.
A declined question points at the closest passage, when one is related enough.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bot.core.answering.decision import Decision
from bot.core.answering.passages import antecedent, runs
from bot.core.answering.scoring import Scored
from bot.core.store.index import KnowledgeIndex

DECLINE = "I don't know: the articles I have don't cover that."
MAX_QUOTED_SENTENCES = 3
CLOSEST_FLOOR = 0.2  # a decline points at the closest passage only when it is at least this related
QUOTE_MARKUP = len("“” [1]")  # what quoting and citing adds to a quote (at most 3 sources: one digit)
ARTICLES, DETAILS = "articles", "details"
DETAILS_LABEL = "From the article's details:"  # what front ends print before an answer from details


@dataclass(frozen=True)
class Source:
    """One cited passage. For a ``kind == "text"`` source ``quote`` is exactly ``text[start:end]`` of
    the document ``doc_id``; a ``"detail"`` source quotes a front-matter field (``start == -1``).
    ``document_kind`` is the document's: an article, or a moderator's note (``author`` wrote it on
    ``published``), which front ends credit as "Moderator note by …, date"."""

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
    author: str | None = None
    document_kind: str = "article"

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("context")
        data["score"] = round(self.score, 4)
        return data


ECHO_CHARS = 500  # of a refused question, in Answer.to_json


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
        """``ask --json``'s record. A refused question is echoed only up to ``ECHO_CHARS``: a megabyte
        sent as a question need not come back whole."""
        return {
            "question": self.question[:ECHO_CHARS] if self.problem else self.question,
            "answered": self.answered,
            "answer": self.text,
            "basis": self.basis,
            "sources": [source.to_json() for source in self.sources],
            "confidence": round(self.confidence, 4),
            "closest": self.closest.to_json() if self.closest else None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Quoted:
    """One quoted sentence, the chunk it is cited from, and how related it is (its source's score)."""

    sentence_id: int
    chunk_id: int
    relevance: float


def compose_answer(
    question: str, index: KnowledgeIndex, ranked: list[Scored], decision: Decision, follow_ratio: float, budget: int
) -> Answer:
    """The answer to ``question``: its quotes (``compose``) with their citations, within ``budget``
    characters, and their sources."""
    quotes = compose(index, ranked, follow_ratio, budget)
    sources = _sources(index, quotes)
    text = _text(index, quotes, sources, budget)
    return Answer(question, True, text, sources, decision.confidence, assessment=decision.values)


def quote_sentences(
    question: str, index: KnowledgeIndex, sentence_ids: list[int], confidence: float, budget: int
) -> Answer:
    """The answer quoting these sentences, in order, as many as fit in ``budget`` (the first always,
    cut at a word if it alone is longer): a moderator's note answering the question it was written for."""
    chosen = [sentence_ids[0]]
    for sentence_id in sentence_ids[1:]:
        if _cost(index, [*chosen, sentence_id]) > budget:
            break
        chosen.append(sentence_id)
    quotes = [[Quoted(n, int(index.sentence_chunk[n]), confidence) for n in run] for run in runs(index, sorted(chosen))]
    sources = _sources(index, quotes)
    return Answer(question, True, _text(index, quotes, sources, budget), sources, confidence)


def decline(question: str, index: KnowledgeIndex, ranked: list[Scored], decision: Decision) -> Answer:
    """I don't know, with the most related sentence (whether or not it answers) as ``closest``."""
    nearest = max(ranked, key=lambda c: c.relevance)
    closest = None
    if nearest.relevance >= CLOSEST_FLOOR:
        closest = _sources(index, [[Quoted(nearest.sentence_id, nearest.chunk_id, nearest.relevance)]])[0]
    return Answer(question, False, DECLINE, confidence=decision.confidence, closest=closest, assessment=decision.values)


def _adds_an_answer(best: Scored, candidate: Scored, reading: bool) -> bool:
    """Whether a close runner-up is worth quoting after ``best``. Being related is not enough once the
    reader has read the question (``reading``): it must say the runner-up answers, or answers at least
    as well as the sentence already leading. An unread runner-up (another script) cannot show that, and
    follows only an unread lead, whose answer rests on the cross-script judgement as before the reader."""
    if not reading:
        return True  # nothing was read (a Hindi question, a follow-up): close runners-up as before
    if candidate.reader is None:
        return best.reader is None
    return candidate.answers or (best.reader is not None and candidate.reader >= best.reader)


def compose(index: KnowledgeIndex, ranked: list[Scored], follow_ratio: float, budget: int) -> list[list[Quoted]]:
    """The quotes to show, in order: runs of consecutive sentences (one quote each).

    The best sentence leads (with the sentence naming its subject when it opens with a pronoun);
    close runners-up that the reader says answer too follow while the answer stays within budget,
    each passage's quotes in document order. A runner-up that opens with a pronoun comes only with
    its antecedent."""
    best = ranked[0]
    by_id = {c.sentence_id: c for c in ranked}
    lead = [best.sentence_id]
    before = antecedent(index, best.sentence_id)
    if before is not None:
        lead.insert(0, before)
    chosen = set(lead)
    used = _cost(index, lead)
    reading = any(c.reader is not None for c in ranked)
    for candidate in ranked[1:]:
        if len(chosen) >= MAX_QUOTED_SENTENCES or candidate.score < follow_ratio * best.score:
            break
        if candidate.sentence_id in chosen or not _adds_an_answer(best, candidate, reading):
            continue
        wanted = [candidate.sentence_id]
        before = antecedent(index, candidate.sentence_id)
        if before is not None and before not in chosen:
            wanted.insert(0, before)
        if len(chosen) + len(wanted) > MAX_QUOTED_SENTENCES:
            continue
        cost = _cost(index, sorted(chosen | set(wanted))) - _cost(index, sorted(chosen))
        if used + cost <= budget:
            chosen.update(wanted)
            used += cost
    quotes = runs(index, sorted(chosen))
    lead_run = next(run for run in quotes if best.sentence_id in run)
    rest = [run for run in quotes if run is not lead_run]
    order = {index.sentence_chunk[best.sentence_id]: 0}
    for candidate in ranked:
        order.setdefault(index.sentence_chunk[candidate.sentence_id], len(order))
    rest.sort(key=lambda run: (order.get(index.sentence_chunk[run[0]], len(order)), run[0]))
    chunk_of = {sid: by_id[sid].chunk_id if sid in by_id else int(index.sentence_chunk[sid]) for sid in chosen}
    chunk_of.update({sid: best.chunk_id for sid in lead_run})
    return [[Quoted(sid, chunk_of[sid], _relevance(by_id, sid)) for sid in run] for run in [lead_run, *rest]]


def _relevance(by_id: dict[int, Scored], sentence_id: int) -> float:
    return by_id[sentence_id].relevance if sentence_id in by_id else 0.0


def _cost(index: KnowledgeIndex, ids: list[int]) -> int:
    """Characters the quotes of these sentences take in the answer, markup and spaces included."""
    quotes = runs(index, sorted(ids))
    total = 0
    for run in quotes:
        first, last = index.sentences[run[0]], index.sentences[run[-1]]
        total += last.end - first.start + QUOTE_MARKUP
    return total + max(0, len(quotes) - 1)


def _sources(index: KnowledgeIndex, quotes: list[list[Quoted]]) -> list[Source]:
    """One source per cited chunk, numbered by first citation; its quote spans the cited sentences."""
    by_chunk: dict[int, list[Quoted]] = {}
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
                author=document.author,
                document_kind=document.kind,
            )
        )
    return sources


def _text(index: KnowledgeIndex, quotes: list[list[Quoted]], sources: list[Source], budget: int) -> str:
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
