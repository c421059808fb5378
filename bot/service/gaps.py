"""What the community asks that the articles miss: the unserved questions grouped into topics.

The questions the bot declined, and those it answered but members voted 👎, are grouped by their
vectors (the bot's own embedder: with the default multilingual-e5-small, a question in English and
its Hindi translation land side by side). A question's vector for grouping is its own vector plus
the vector of its words the articles never use (``Engine.question_vectors``): the articles' own
subjects (Gerst, Soyuz, Baikonur) are in most questions and would pull "How old is Gerst?" towards
"Where does Gerst live?", while what is asked (age, home) is what makes a gap. Agglomerative
clustering (average linkage, cosine distance below ``DISTANCE``) needs no number of topics.

Each topic: how many people asked in the period (ranked by it), how many the period before (the
trend), two or three differently worded example questions, and the closest passage the articles
have (or, when the bot answers it now, after a note or a new article, that answer's first source).
Who asked is never part of it. With fewer than ``MIN_TO_GROUP`` unserved questions there is nothing
to group: each distinct question is its own line.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from bot.core.engine import NOTE, Engine, Source
from bot.service.charts import period_start
from bot.service.storage import Gap, Storage

logger = logging.getLogger(__name__)

# Cosine distance under which two groups of questions merge (average linkage). Measured on two
# written sets of gap questions (English and Hindi paraphrases of 22 subjects, and unrelated ones):
# 0.55 put no two subjects together and split 1 of the 22 (0.5 splits 3; 0.6 mixes two).
DISTANCE = 0.55
MIN_TO_GROUP = 6  # fewer unserved questions than this: a plain list
EXAMPLES = 3
SHOWN = 10
MAX_QUESTIONS = 5000  # the most recent unserved questions a report reads


@dataclass(frozen=True)
class Topic:
    """One subject members asked about that the articles did not serve."""

    question: str  # the most typical question of the topic
    examples: tuple[str, ...]  # up to three differently worded questions, the typical one first
    people: int  # how many people asked in the period
    questions: int  # how many questions in the period
    before: int  # how many people asked in the period before
    declined: int  # of ``questions``, declined (the others were answered and voted 👎)
    question_ids: tuple[int, ...]  # a stored question for each example (a note answers them all: /gaps)
    closest: Source | None = None  # the closest passage the articles have (or the answer's first source)
    answered_now: bool = False  # the bot answers ``question`` now

    def to_json(self) -> dict:
        closest = self.closest
        return {
            "question": self.question,
            "examples": list(self.examples),
            "people": self.people,
            "questions": self.questions,
            "before": self.before,
            "trend": self.trend,
            "declined": self.declined,
            "answered_now": self.answered_now,
            "closest": None if closest is None else {"title": closest.title, "quote": closest.quote},
        }

    @property
    def trend(self) -> str:
        """Against the period before: "new", "+3", "−2" or "same"."""
        if self.before == 0:
            return "new"
        change = self.people - self.before
        return "same" if change == 0 else f"+{change}" if change > 0 else f"−{-change}"


@dataclass(frozen=True)
class GapReport:
    days: float
    topics: list[Topic] = field(default_factory=list)  # the top ones, most people first
    grouped: bool = True  # False: too few questions to group; each topic is one question
    questions: int = 0  # unserved questions in the period
    people: int = 0  # people who asked them
    more: int = 0  # topics not shown

    def to_json(self) -> dict:
        return {
            "days": self.days,
            "grouped": self.grouped,
            "questions": self.questions,
            "people": self.people,
            "more": self.more,
            "topics": [topic.to_json() for topic in self.topics],
        }


NOTHING_CLOSE = "Nothing in the articles comes close."


def closest_heading(topic: Topic) -> str:
    """What the topic's passage is, said the same way by every front end (followed by its source)."""
    if topic.closest is None:
        return NOTHING_CLOSE
    if topic.answered_now and (topic.closest.document_kind == NOTE or topic.declined == topic.questions):
        return "Answered now, from"
    if topic.answered_now:
        return "Answered with this and voted down, from"
    return "Not an answer; the closest passage is from"


def normalised(question: str) -> str:
    """The form under which two questions count as the same: case, spacing, closing marks aside."""
    return " ".join(question.casefold().split()).rstrip("?!.।… ")


def topic_labels(vectors: np.ndarray, distance: float = DISTANCE) -> np.ndarray:
    """A topic number for each row of ``vectors`` (agglomerative, average linkage, cosine)."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    from sklearn.cluster import AgglomerativeClustering  # ~1 s to import: only when grouping

    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance)
    return model.fit_predict(vectors)


def form_vectors(questions: Sequence[str], vectors: Callable[[list[str]], np.ndarray]) -> dict[str, np.ndarray]:
    """One unit vector per distinct form of ``questions`` (``normalised``), from its first wording."""
    first: dict[str, str] = {}
    for question in questions:
        first.setdefault(normalised(question), question)
    found = vectors(list(first.values())) if first else np.zeros((0, 0))
    found = found / np.maximum(np.linalg.norm(found, axis=1, keepdims=True), 1e-12)
    return dict(zip(first, found, strict=True))


def group_questions(questions: Sequence[str], vectors: dict[str, np.ndarray]) -> list[list[int]]:
    """The positions of ``questions`` grouped into topics, the largest first; ``vectors``: each
    form's vector (``form_vectors``), so near-duplicates share a topic before any vector is compared."""
    forms = list(dict.fromkeys(normalised(q) for q in questions))
    labels = topic_labels(np.stack([vectors[form] for form in forms])) if forms else []
    label_of = dict(zip(forms, labels, strict=True))
    groups: dict[int, list[int]] = {}
    for position, question in enumerate(questions):
        groups.setdefault(int(label_of[normalised(question)]), []).append(position)
    return sorted(groups.values(), key=len, reverse=True)


def find_gaps(
    storage: Storage,
    engine: Engine,
    platform: str,
    community: str | None,
    days: float,
    *,
    now: float | None = None,
    shown: int = SHOWN,
) -> GapReport:
    """The topics of the last ``days`` days, today the last (``charts.period_start``), and their trend
    against as long a period before; most people first. Slow work (vectors, clustering, answers):
    call it from a worker thread."""
    now = time.time() if now is None else now
    start = period_start(days, now)
    gaps = storage.gaps(platform, community, start - (now - start), limit=MAX_QUESTIONS)
    current = [gap for gap in gaps if gap.created >= start]
    if not current:
        return GapReport(days, grouped=len(gaps) >= MIN_TO_GROUP)
    grouped = len(current) >= MIN_TO_GROUP
    vectors: dict[str, np.ndarray] = {}
    if grouped:
        vectors = form_vectors([gap.question for gap in gaps], engine.question_vectors)
        groups = group_questions([gap.question for gap in gaps], vectors)
    else:
        by_form: dict[str, list[int]] = {}
        for position, gap in enumerate(gaps):
            by_form.setdefault(normalised(gap.question), []).append(position)
        groups = list(by_form.values())
    topics = []
    for members in groups:
        now_gaps = [gaps[i] for i in members if gaps[i].created >= start]
        if now_gaps:
            earlier = [gaps[i] for i in members if gaps[i].created < start]
            topics.append(_topic(now_gaps, earlier, vectors))
    topics.sort(key=lambda t: (t.people, t.questions), reverse=True)
    top = [_with_closest(topic, engine) for topic in topics[:shown]]
    people = len({gap.asker for gap in current})
    return GapReport(days, top, grouped, len(current), people, more=max(0, len(topics) - shown))


def _topic(gaps: list[Gap], earlier: list[Gap], vectors: dict[str, np.ndarray]) -> Topic:
    """A topic from its questions of the period (newest first) and of the period before."""
    newest_wording = {}
    for gap in gaps:  # newest first: each form shown as last asked
        newest_wording.setdefault(normalised(gap.question), gap.question)
    order = _typical_first(list(newest_wording.values()), [gap.question for gap in gaps], vectors)
    typical = order[0]
    examples = tuple(order[:EXAMPLES])
    ids = tuple(next(gap.id for gap in gaps if normalised(gap.question) == normalised(e)) for e in examples)
    return Topic(
        question=typical,
        examples=examples,
        people=len({gap.asker for gap in gaps}),
        questions=len(gaps),
        before=len({gap.asker for gap in earlier}),
        declined=sum(not gap.answered for gap in gaps),
        question_ids=ids,
    )


def _typical_first(texts: list[str], asked: list[str], vectors: dict[str, np.ndarray]) -> list[str]:
    """``texts`` (distinct forms) ordered for showing: the most typical (closest to the others, the
    more often asked the more weight) first, then each next the most different from those before
    it, so the examples show the range of wording (and of languages)."""
    counts = Counter(normalised(a) for a in asked)
    if len(texts) == 1 or not vectors:
        return sorted(texts, key=lambda text: -counts[normalised(text)])
    matrix = np.stack([vectors[normalised(text)] for text in texts])
    weights = np.array([counts[normalised(text)] for text in texts], dtype=float)
    similarity = matrix @ matrix.T
    typical = int(np.argmax(similarity @ weights))
    chosen = [typical]
    while len(chosen) < min(EXAMPLES, len(texts)):
        rest = [i for i in range(len(texts)) if i not in chosen]
        chosen.append(min(rest, key=lambda i: max(similarity[i, j] for j in chosen)))
    rest = [i for i in range(len(texts)) if i not in chosen]
    return [texts[i] for i in chosen + rest]


def _with_closest(topic: Topic, engine: Engine) -> Topic:
    """The topic with the closest passage the articles have for its typical question (or, when the
    bot answers it now, the answer's first source)."""
    try:
        answer = engine.answer(topic.question)
    except Exception:  # a report must not fail over one question
        logger.exception("answering a gap's question for its closest passage failed")
        return topic
    closest = answer.sources[0] if answer.answered and answer.sources else answer.closest
    return replace(topic, closest=closest, answered_now=answer.answered)
