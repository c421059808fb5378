"""The reader's training examples: SQuAD questions paired with sentences that answer them and with
sentences that do not, hardest first.

A question's group holds its positive (the sentence holding the answer, with its title and the
sentence before it) and negatives a retriever would also offer: the other sentences of the same
paragraph that share most of the question's words (on the subject, not the answer: exactly what the
bot must tell apart), the most similar sentence of another paragraph of the article, and now and
then a sentence of another article. SQuAD 2.0's unanswerable questions come with the sentence
holding their plausible answer, and some answerable questions are made unanswerable by swapping one
of their names or numbers for another of the article's (the sentence then answers a different
question): both are groups with no positive. Sentences that hold the answer text without being the
annotated one are left out rather than called negative.

Articles are split, not questions: validation articles are never trained on.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import regex

from bot.core.answering.reader import Passage
from bot.core.ingest.chunking import split_sentences
from bot.core.ingest.lexical import tokenize

SQUAD11 = Path("../shared/data/squad/squad11-train.json.gz")
SQUAD20 = Path("../shared/data/squad/squad20-train-sample.json.gz")
VALID_EVERY = 20  # every 20th article of SQuAD 1.1 train is a validation article
VALID_V2_ARTICLES = frozenset({"IPod", "Spectre_(2015_film)", "Solar_energy"})  # of the 10 with unanswerables
# A name (a capitalised word inside a sentence, not its first) or a number.
_NAME_OR_NUMBER = regex.compile(r"(?<=[\p{Ll}\d,;:)]\s)\p{Lu}[\p{L}'’-]+|\b\d[\d,.]*\d\b|\b\d\b")


@dataclass(frozen=True)
class Example:
    passage: Passage
    label: int


@dataclass
class Group:
    """One question and the sentences it is read against (``kind``: answerable, unanswerable, swapped)."""

    question: str
    examples: list[Example] = field(default_factory=list)
    kind: str = "answerable"
    article: str = ""

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "kind": self.kind,
            "article": self.article,
            "examples": [[e.passage.sentence, e.passage.title, e.passage.previous, e.label] for e in self.examples],
        }

    @classmethod
    def from_json(cls, data: dict) -> Group:
        examples = [Example(Passage(s, t, p), int(label)) for s, t, p, label in data["examples"]]
        return cls(data["question"], examples, data["kind"], data["article"])


@dataclass
class Paragraph:
    title: str
    text: str
    spans: list[tuple[int, int]]
    qas: list[dict]

    def sentence(self, i: int) -> str:
        start, end = self.spans[i]
        return self.text[start:end]

    def passage(self, i: int) -> Passage:
        previous = self.sentence(i - 1) if i > 0 else ""
        return Passage(self.sentence(i), self.title, previous)

    def holding(self, offset: int) -> int | None:
        return next((i for i, (start, end) in enumerate(self.spans) if start <= offset < end), None)


@dataclass
class Article:
    title: str
    paragraphs: list[Paragraph]

    @property
    def validation(self) -> bool:
        return self.title in VALID_V2_ARTICLES or _article_index.get(self.title, 1) % VALID_EVERY == 0


_article_index: dict[str, int] = {}


def load_articles(path: Path) -> list[Article]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)["data"]
    articles = []
    for article in data:
        title = article["title"].replace("_", " ")
        paragraphs = [
            Paragraph(title, p["context"], split_sentences(p["context"]), p["qas"]) for p in article["paragraphs"]
        ]
        articles.append(Article(article["title"], paragraphs))
    return articles


def index_articles(squad11: list[Article]) -> None:
    """Number SQuAD 1.1's articles in file order: the validation split is every ``VALID_EVERY``th."""
    _article_index.clear()
    _article_index.update({a.title: n for n, a in enumerate(squad11)})


class _Overlap:
    """idf-weighted share of a question's terms in a sentence, idf over one article's sentences."""

    def __init__(self, article: Article) -> None:
        self.terms = [[set(tokenize(p.sentence(i))) for i in range(len(p.spans))] for p in article.paragraphs]
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for p, paragraph in enumerate(self.terms):
            for i, sentence in enumerate(paragraph):
                for term in sentence:
                    self.postings.setdefault(term, []).append((p, i))
        n = sum(len(p) for p in self.terms) or 1
        self.idf = {t: math.log(1 + n / len(where)) for t, where in self.postings.items()}

    def score(self, question_terms: set[str], paragraph: int, sentence: int) -> float:
        return sum(self.idf.get(t, 0.0) for t in question_terms & self.terms[paragraph][sentence])

    def best(self, question_terms: set[str]) -> list[tuple[float, int, int]]:
        """Every sentence of the article sharing a term with the question, best first."""
        scores: Counter[tuple[int, int]] = Counter()
        for term in question_terms:
            for where in self.postings.get(term, ()):
                scores[where] += self.idf[term]
        return sorted(((score, p, i) for (p, i), score in scores.items()), reverse=True)


def _holds(sentence: str, answers: Iterable[str]) -> bool:
    folded = sentence.casefold()
    return any(a.strip().casefold() in folded for a in answers if a.strip())


def answerable_group(
    article: Article, overlap: _Overlap, p: int, qa: dict, rng: random.Random, others: list[Article]
) -> Group | None:
    """The question's positive, its two hardest paragraph neighbours, the closest sentence of another
    paragraph, and (a quarter of the time) a random sentence of another article."""
    paragraph = article.paragraphs[p]
    answer = qa["answers"][0]
    positive = paragraph.holding(answer["answer_start"])
    if positive is None:
        return None
    answers = [a["text"] for a in qa["answers"]]
    terms = set(tokenize(qa["question"]))
    group = Group(qa["question"], [Example(paragraph.passage(positive), 1)], article=article.title)
    inside = [i for i in range(len(paragraph.spans)) if i != positive and not _holds(paragraph.sentence(i), answers)]
    inside.sort(key=lambda i: -overlap.score(terms, p, i))
    group.examples += [Example(paragraph.passage(i), 0) for i in inside[:2]]
    outside = next(
        (
            (q, i)
            for _, q, i in overlap.best(terms)
            if q != p and not _holds(article.paragraphs[q].sentence(i), answers)
        ),
        None,
    )
    if outside is not None:
        group.examples.append(Example(article.paragraphs[outside[0]].passage(outside[1]), 0))
    if rng.random() < 0.25 and others:
        stranger = rng.choice(rng.choice(others).paragraphs)
        if stranger.spans:
            group.examples.append(Example(stranger.passage(rng.randrange(len(stranger.spans))), 0))
    return group


def unanswerable_group(article: Article, overlap: _Overlap, p: int, qa: dict) -> Group | None:
    """A SQuAD 2.0 impossible question against the sentence holding its plausible answer and the
    paragraph's two sentences closest to it: all negatives."""
    paragraph = article.paragraphs[p]
    plausible = qa.get("plausible_answers") or []
    near = paragraph.holding(plausible[0]["answer_start"]) if plausible else None
    terms = set(tokenize(qa["question"]))
    ranked = sorted(range(len(paragraph.spans)), key=lambda i: -overlap.score(terms, p, i))
    chosen = ([near] if near is not None else []) + [i for i in ranked if i != near][:2]
    if not chosen:
        return None
    examples = [Example(paragraph.passage(i), 0) for i in chosen]
    return Group(qa["question"], examples, "unanswerable", article.title)


def swapped_group(article: Article, positive: Example, question: str, rng: random.Random) -> Group | None:
    """The question with one of its names or numbers that the answer's sentence holds replaced by one
    of the article's that it does not: the sentence no longer answers (SQuAD 2.0's "entity swap")."""
    sentence = positive.passage.sentence
    inside = [m for m in _NAME_OR_NUMBER.finditer(question) if m.group() in sentence]
    if not inside:
        return None
    target = rng.choice(inside)
    numeric = target.group()[0].isdigit()
    pool = {
        m.group()
        for paragraph in article.paragraphs
        for m in _NAME_OR_NUMBER.finditer(paragraph.text)
        if m.group()[0].isdigit() == numeric and m.group() not in sentence and m.group() not in question
    }
    if not pool:
        return None
    replacement = rng.choice(sorted(pool))
    swapped = question[: target.start()] + replacement + question[target.end() :]
    return Group(swapped, [Example(positive.passage, 0)], "swapped", article.title)


def build_groups(
    squad11: list[Article], squad20: list[Article], questions: int, seed: int, swap_share: float = 0.1
) -> tuple[list[Group], list[Group]]:
    """(training groups, validation groups). ``questions`` answerable training questions are drawn
    evenly from the training articles; every validation article's questions are kept for validation
    (the caller samples them)."""
    rng = random.Random(seed)
    index_articles(squad11)
    train_articles = [a for a in squad11 if not a.validation]
    pool = [(a, p, qa) for a in train_articles for p, par in enumerate(a.paragraphs) for qa in par.qas]
    chosen = rng.sample(pool, min(questions, len(pool)))
    chosen.sort(key=lambda item: item[0].title)  # one overlap table per article
    train: list[Group] = []
    overlaps: dict[str, _Overlap] = {}
    for article, p, qa in chosen:
        overlap = overlaps.setdefault(article.title, _Overlap(article))
        group = answerable_group(article, overlap, p, qa, rng, train_articles)
        if group is None:
            continue
        train.append(group)
        if rng.random() < swap_share:
            swapped = swapped_group(article, group.examples[0], qa["question"], rng)
            if swapped is not None:
                train.append(swapped)
    overlaps.clear()
    valid = list(validation_groups(squad11, squad20, rng))
    for article in squad20:
        if article.title in VALID_V2_ARTICLES:
            continue
        overlap = _Overlap(article)
        for p, paragraph in enumerate(article.paragraphs):
            for qa in paragraph.qas:
                if qa.get("is_impossible"):
                    group = unanswerable_group(article, overlap, p, qa)
                    train.extend([group, group] if group else [])  # few and precious: seen twice
    rng.shuffle(train)
    return train, valid


def validation_groups(squad11: list[Article], squad20: list[Article], rng: random.Random) -> Iterator[Group]:
    """Validation articles' questions against every sentence of their paragraph (as the bot reads
    every candidate), plus SQuAD 2.0's unanswerable questions of the held-out articles."""
    for article in squad11:
        if not article.validation or article.title in VALID_V2_ARTICLES:
            continue
        for paragraph in article.paragraphs:
            for qa in paragraph.qas:
                positive = paragraph.holding(qa["answers"][0]["answer_start"])
                if positive is None:
                    continue
                answers = [a["text"] for a in qa["answers"]]
                examples = [
                    Example(paragraph.passage(i), int(i == positive))
                    for i in range(len(paragraph.spans))
                    if i == positive or not _holds(paragraph.sentence(i), answers)
                ]
                yield Group(qa["question"], examples, "answerable", article.title)
    for article in squad20:
        if article.title not in VALID_V2_ARTICLES:
            continue
        for paragraph in article.paragraphs:
            for qa in paragraph.qas:
                impossible = bool(qa.get("is_impossible"))
                positive = None if impossible else paragraph.holding(qa["answers"][0]["answer_start"])
                if not impossible and positive is None:
                    continue
                answers = [a["text"] for a in qa["answers"]]
                examples = [
                    Example(paragraph.passage(i), int(i == positive))
                    for i in range(len(paragraph.spans))
                    if i == positive or impossible or not _holds(paragraph.sentence(i), answers)
                ]
                kind = "unanswerable" if impossible else "answerable"
                yield Group(qa["question"], examples, kind, article.title)


def save_groups(path: Path, groups: list[Group]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        for group in groups:
            handle.write(json.dumps(group.to_json(), ensure_ascii=False) + "\n")
    partial.replace(path)


def load_groups(path: Path) -> list[Group]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [Group.from_json(json.loads(line)) for line in handle if line.strip()]


# SQuAD 2.0's question writers made most of its impossible questions by changing an answerable one a
# little: a word for its opposite, a negation, another name (Rajpurkar et al. 2018, table 3). The
# sentence that answered the original then answers nothing: what a model matching words misses.
_OPPOSITES = {
    **dict.fromkeys(["first"], "last"),
    "last": "first",
    "largest": "smallest",
    "smallest": "largest",
    "biggest": "smallest",
    "most": "least",
    "least": "most",
    "highest": "lowest",
    "lowest": "highest",
    "before": "after",
    "after": "before",
    "earliest": "latest",
    "latest": "earliest",
    "oldest": "youngest",
    "youngest": "oldest",
    "longest": "shortest",
    "shortest": "longest",
    "best": "worst",
    "worst": "best",
    "increase": "decrease",
    "decrease": "increase",
    "increased": "decreased",
    "decreased": "increased",
    "north": "south",
    "south": "north",
    "east": "west",
    "west": "east",
    "won": "lost",
    "lost": "won",
    "more": "fewer",
    "fewer": "more",
    "above": "below",
    "below": "above",
    "major": "minor",
    "minor": "major",
    "early": "late",
    "late": "early",
    "maximum": "minimum",
    "minimum": "maximum",
    "private": "public",
    "public": "private",
    "start": "end",
    "began": "ended",
    "ended": "began",
    "successful": "unsuccessful",
    "legal": "illegal",
    "illegal": "legal",
}
# A question whose wh-word is its subject ("Who was born…", "Which team has won…"): "not" goes after
# the auxiliary and the question still reads as English.
_SUBJECT_QUESTION = regex.compile(
    r"^(?:who|what|which(?:\s+\p{L}+)?)\s+(?:was|were|is|are|has|have|had)\b",
    regex.IGNORECASE,
)
_WORD = regex.compile(r"\b\p{L}+\b")


def opposite_question(question: str, sentence: str) -> str | None:
    """The question with one word the answering sentence also uses turned into its opposite."""
    folded = sentence.casefold()
    for match in _WORD.finditer(question):
        word = match.group().casefold()
        other = _OPPOSITES.get(word)
        if other and word in folded and other not in folded:
            return question[: match.start()] + other + question[match.end() :]
    return None


def negated_question(question: str, sentence: str) -> str | None:
    """The question with "not" after its auxiliary, when the sentence holds no negation."""
    if regex.search(r"\b(?:not|never|no)\b|n't\b", sentence, regex.IGNORECASE):
        return None
    match = _SUBJECT_QUESTION.match(question)
    if match is None or regex.match(r"\s+not\b", question[match.end() :]):
        return None
    return question[: match.end()] + " not" + question[match.end() :]


def contrast_groups(train: list[Group], share: float, seed: int, articles: dict[str, Article]) -> list[Group]:
    """For ``share`` of the answerable groups, a twin: the same positive sentence, the question
    changed by an opposite, a negation or another name (in that order of preference), and that pair
    labelled 0; the twin carries the original pair too, so each batch shows what the change does."""
    rng = random.Random(seed + 7)
    twins = []
    for group in train:
        if group.kind != "answerable" or rng.random() >= share:
            continue
        positive = group.examples[0]
        changed = opposite_question(group.question, positive.passage.sentence) or negated_question(
            group.question, positive.passage.sentence
        )
        if changed is None and group.article in articles:
            swapped = swapped_group(articles[group.article], positive, group.question, rng)
            changed = swapped.question if swapped else None
        if changed is not None:
            twins.append(Group(changed, [Example(positive.passage, 0)], "contrast", group.article))
    return twins
