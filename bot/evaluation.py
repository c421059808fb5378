"""``launchbot eval``: score the bot on a question set, so answer quality is measured, not assumed.

Three formats:
- the launch YAML (``tests/data/dev_qa.yaml``): questions over the configured knowledge base, each
  with strings the answer must contain (``expect_any``) and a quoted source must contain
  (``source_has``), or ``answerable: false``;
- follow-up dialogues (``tests/data/dialogues.yaml``): a ``dialogues`` list, each one conversation
  asked in order through ``Engine.answer(question, history)``; turns with ``expect_any`` or
  ``answerable`` are scored like the launch set, except that the FIRST quoted sentence must hold
  the fact; other turns only set the context;
- SQuAD 1.1 / 2.0 / XQuAD JSON: every article becomes a document (title kept, paragraphs separated
  by blank lines) in a scratch knowledge base under ``data/eval/``, indexed once and reused.

An answerable question is a hit when the bot answers, its direct answer contains an expected string,
and a source quote, verbatim text of the right document, contains it too. With ``--first-quote`` the
answer's FIRST quote (what a reader sees first) must hold the expected string; the first-quote rate
is reported either way. An unanswerable one counts when the bot declines. ``--curve`` shows how
both move with the decision threshold: every question is answered once with abstention off, and
the threshold is applied afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings
from bot.core.engine import Answer, Turn, quoted_sentences, turn_of
from bot.service.reports import percentile

SCRATCH = Path("data/eval")
# The shared evaluation files (SQuAD 2.0, the hard launch set, the public dialogues and scorers) live
# beside a checkout, never in it: a plain clone has only the sets in tests/data/.
SHARED_EVAL = Path("../shared/eval")


def shared_eval_dir() -> Path:
    """``$SHARED_EVAL`` (as ``make SHARED_EVAL=DIR`` passes it), else ``../shared/eval``."""
    return Path(os.environ.get("SHARED_EVAL") or SHARED_EVAL)


def question_set_missing(path: Path) -> FileNotFoundError:
    """Not found, and where the shared evaluation files belong when ``path`` is one of them."""
    message = f"question set not found: {path}"
    if "shared" in path.parts or shared_eval_dir().resolve() in path.resolve().parents:
        message += (
            f"; it is one of the shared evaluation files, which live beside the repository in {SHARED_EVAL} "
            "(squad2/, launch_hard.yaml, dialogues.yaml, score/), not in a clone: put them there, "
            "or use the repository's own sets in tests/data/ (make eval)"
        )
    return FileNotFoundError(message)


@dataclass
class Item:
    id: str
    question: str
    answerable: bool
    expect_any: list[str] = field(default_factory=list)
    source_has: list[str] = field(default_factory=list)
    doc_id: str | None = None
    split: str | None = None  # a set's own tune / held-out mark, where it has one


@dataclass
class Outcome:
    item: Item
    answer: Answer
    seconds: float
    correct_if_answered: bool  # the answer would count, were it not declined
    first_if_answered: bool = False  # ... and its first quote holds the fact
    first_quote: bool = False  # hits count only when the first quote holds the fact

    def answered(self, threshold: float) -> bool:
        return self.answer.answered and self.answer.confidence >= threshold

    def hit(self, threshold: float) -> bool:
        correct = self.first_if_answered if self.first_quote else self.correct_if_answered
        return self.answered(threshold) and correct if self.item.answerable else not self.answered(threshold)

    def first_hit(self, threshold: float) -> bool:
        return self.item.answerable and self.answered(threshold) and self.first_if_answered


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


def first_quote(text: str) -> str:
    """The answer's first quote: what a reader sees first ("" when it opens otherwise)."""
    quotes = quoted_sentences(text)
    return quotes[0] if quotes and text.lstrip().startswith("“") else ""


def judge(item: Item, answer: Answer, first: bool = False) -> bool:
    """Whether the answer's content is right, leaving aside whether it was declined. ``first``: the
    fact must be in the first quote, the one a reader sees first."""
    if not item.answerable:
        return True
    text = fold(first_quote(answer.text) if first else answer.text)
    expected = [fold(e) for e in item.expect_any if fold(e) in text]
    if not expected:
        return False
    sources = [s for s in answer.sources if item.doc_id is None or s.doc_id == item.doc_id]
    needles = [fold(n) for n in item.source_has] or expected
    return any(fold(needle) in fold(s.quote) for s in sources for needle in needles)


# --------------------------------------------------------------------------- loading sets


def load_yaml_set(path: Path) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError(f"{path}: expected a mapping with an 'items' list")
    items = []
    for number, raw in enumerate(data["items"], start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
            raise ValueError(f"{path}: item {number} has no 'question'")
        items.append(
            Item(
                str(raw.get("id", number)),
                raw["question"],
                bool(raw.get("answerable", True)),
                list(raw.get("expect_any", [])),
                list(raw.get("source_has", [])),
                split=str(raw["split"]) if "split" in raw else None,
            )
        )
    return items


@dataclass
class Dialogue:
    id: str
    turns: list[Item]
    scored: list[bool]  # turns without expectations only set the context


def load_dialogues(path: Path) -> list[Dialogue]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("dialogues"), list):
        raise ValueError(f"{path}: expected a mapping with a 'dialogues' list")
    dialogues = []
    for number, raw in enumerate(data["dialogues"], start=1):
        name = str(raw.get("id", number)) if isinstance(raw, dict) else str(number)
        if not isinstance(raw, dict) or not isinstance(raw.get("turns"), list) or not raw["turns"]:
            raise ValueError(f"{path}: dialogue {name} has no 'turns' list")
        turns, scored = [], []
        for position, turn in enumerate(raw["turns"], start=1):
            if not isinstance(turn, dict) or not isinstance(turn.get("question"), str):
                raise ValueError(f"{path}: dialogue {name} turn {position} has no 'question'")
            turns.append(
                Item(
                    f"{name}#{position}",
                    turn["question"],
                    bool(turn.get("answerable", True)),
                    list(turn.get("expect_any", [])),
                    list(turn.get("source_has", [])),
                )
            )
            scored.append("expect_any" in turn or "answerable" in turn)
        dialogues.append(Dialogue(name, turns, scored))
    return dialogues


def evaluate_dialogues(
    dialogues: list[Dialogue], answer: Callable[[str, list[Turn]], Answer], max_turns: int
) -> list[Outcome]:
    """Each dialogue as one conversation; the outcomes of its scored turns, judged on the first quote."""
    outcomes = []
    for dialogue in dialogues:
        history: list[Turn] = []
        for item, scored in zip(dialogue.turns, dialogue.scored, strict=True):
            started = time.perf_counter()
            result = answer(item.question, history)
            seconds = time.perf_counter() - started
            history = [*history, turn_of(result)][-max_turns:] if max_turns else []
            if scored:
                right = judge(item, result, first=True)
                outcomes.append(Outcome(item, result, seconds, right, right, first_quote=True))
    return outcomes


def squad_corpus(path: Path) -> tuple[dict[str, str], list[Item]]:
    """Documents (name -> Markdown with front matter) and items of a SQuAD-format file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not SQuAD format (expected a top-level 'data' list)")
    documents: dict[str, str] = {}
    items: list[Item] = []
    for number, article in enumerate(data["data"]):
        title = str(article.get("title", f"article {number}")).replace("_", " ")
        doc_id = f"{number:03d}"
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        front = yaml.safe_dump({"title": title}, allow_unicode=True).strip()
        documents[doc_id] = f"---\n{front}\n---\n" + "\n\n".join(paragraphs) + "\n"
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                impossible = bool(qa.get("is_impossible", False))
                answers = sorted({a["text"] for a in qa.get("answers", [])})
                items.append(Item(str(qa["id"]), qa["question"], not impossible and bool(answers), answers, [], doc_id))
    return documents, items


def squad_settings(path: Path, settings: Settings, documents: dict[str, str], scratch: Path = SCRATCH) -> Settings:
    """Write the documents to a scratch knowledge base keyed by content; reuse it when it exists."""
    digest = hashlib.sha256("".join(documents.values()).encode()).hexdigest()[:10]
    root = scratch / f"{path.stem}-{digest}"
    knowledge = root / "knowledge"
    knowledge.mkdir(parents=True, exist_ok=True)
    for doc_id, text in documents.items():
        target = knowledge / f"{doc_id}.md"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return settings.model_copy(
        update={
            "knowledge_dir": knowledge,
            "index_dir": root / "index",
            "max_document_bytes": max(settings.max_document_bytes, 20_000_000),
        }
    )


# --------------------------------------------------------------------------- running


def evaluate(
    items: list[Item], answer: Callable[[str], Answer], progress: bool = False, first_quote: bool = False
) -> list[Outcome]:
    outcomes = []
    for number, item in enumerate(items, start=1):
        started = time.perf_counter()
        result = answer(item.question)
        seconds = time.perf_counter() - started
        outcomes.append(Outcome(item, result, seconds, judge(item, result), judge(item, result, True), first_quote))
        if progress and number % 200 == 0:
            print(f"  {number}/{len(items)} questions", file=sys.stderr)
    return outcomes


@dataclass
class Summary:
    answerable: int
    hits: int
    unanswerable: int
    declined: int
    median_chars: float
    latency_ms: dict[str, float]
    first_quote: int = 0  # answerable questions answered with the fact in the first quote

    @property
    def hit_rate(self) -> float:
        return self.hits / self.answerable if self.answerable else 1.0

    @property
    def first_rate(self) -> float:
        return self.first_quote / self.answerable if self.answerable else 1.0

    @property
    def abstain_rate(self) -> float:
        return self.declined / self.unanswerable if self.unanswerable else 1.0

    def line(self) -> str:
        return (
            f"answerable: {self.hits}/{self.answerable} hit ({self.hit_rate:.1%})  "
            f"unanswerable: {self.declined}/{self.unanswerable} declined ({self.abstain_rate:.1%})  "
            f"first quote: {self.first_quote}/{self.answerable} ({self.first_rate:.1%})  "
            f"median answer {self.median_chars:.0f} chars  latency p50 {self.latency_ms['p50']:.1f} ms, "
            f"p95 {self.latency_ms['p95']:.1f} ms, p99 {self.latency_ms['p99']:.1f} ms"
        )


def summarise(outcomes: list[Outcome], threshold: float) -> Summary:
    answerable = [o for o in outcomes if o.item.answerable]
    unanswerable = [o for o in outcomes if not o.item.answerable]
    answered = [len(o.answer.text) for o in outcomes if o.answered(threshold)]
    return Summary(
        answerable=len(answerable),
        hits=sum(o.hit(threshold) for o in answerable),
        unanswerable=len(unanswerable),
        declined=sum(o.hit(threshold) for o in unanswerable),
        median_chars=statistics.median(answered) if answered else 0.0,
        latency_ms=percentiles([o.seconds * 1000 for o in outcomes]),
        first_quote=sum(o.first_hit(threshold) for o in answerable),
    )


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99)}


def curve(outcomes: list[Outcome], steps: int = 20) -> list[tuple[float, float, float]]:
    """(threshold, answerable hit rate, unanswerable decline rate) from 0 to 1."""
    rows = []
    for step in range(steps + 1):
        threshold = step / steps
        summary = summarise(outcomes, threshold)
        rows.append((threshold, summary.hit_rate, summary.abstain_rate))
    return rows


def failure_record(outcome: Outcome, threshold: float) -> dict[str, Any]:
    return {
        "id": outcome.item.id,
        "question": outcome.item.question,
        "answerable": outcome.item.answerable,
        "expected": outcome.item.expect_any,
        "doc_id": outcome.item.doc_id,
        "answered": outcome.answered(threshold),
        "confidence": round(outcome.answer.confidence, 4),
        "answer": outcome.answer.text,
        "sources": [s.doc_id for s in outcome.answer.sources],
    }


def run_eval(args: Any, settings: Settings) -> int:
    """The ``eval`` command. Exit 1 when a given ``--min-hit``/``--min-abstain`` is not met."""
    from bot.core.engine import Engine

    path: Path = args.file
    if not path.is_file():
        raise question_set_missing(path)
    squad = path.suffix.lower() == ".json"
    dialogues = None
    if squad:
        documents, items = squad_corpus(path)
        settings = squad_settings(path, settings, documents, settings.home / SCRATCH)
    elif "dialogues" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}):
        dialogues = load_dialogues(path)[: args.limit or None]
        items = [item for dialogue in dialogues for item in dialogue.turns]
    else:
        items = load_yaml_set(path)
    if args.limit:
        items = items[: args.limit]
    if dialogues is not None:
        # A declined turn lends no context to the next, so the conversation runs at the real threshold.
        engine = Engine(settings)
        engine.open(notify=lambda message: print(message, file=sys.stderr))
        decider = engine.decider
        outcomes = evaluate_dialogues(dialogues, engine.answer, settings.chat.conversation_turns)
        items = [outcome.item for outcome in outcomes]
    else:
        engine = Engine(settings.model_copy(update={"min_confidence": -1.0, "answer_threshold": -1.0}))
        engine.open(notify=lambda message: print(message, file=sys.stderr))
        decider = replace(engine.decider, min_confidence=settings.min_confidence, override=settings.answer_threshold)
        first = getattr(args, "first_quote", False)
        outcomes = evaluate(items, engine.answer, progress=squad, first_quote=first)
    threshold = decider.threshold
    failures = [o for o in outcomes if not o.hit(threshold)]
    shown = failures if not squad else failures[:10]
    for outcome in shown:
        record = failure_record(outcome, threshold)
        print(
            f"FAIL {record['id']}: {record['question']!r} answered={record['answered']} "
            f"confidence={record['confidence']} expected={record['expected'][:3]} "
            f"answer={record['answer'][:160]!r}"
        )
    if len(shown) < len(failures):
        print(f"… and {len(failures) - len(shown)} more failures (--failures FILE writes them all)")
    if args.failures:
        with args.failures.open("w", encoding="utf-8") as handle:
            for outcome in failures:
                handle.write(json.dumps(failure_record(outcome, threshold), ensure_ascii=False) + "\n")
    summary = summarise(outcomes, threshold)
    if args.curve:
        print("threshold  answerable-hit  unanswerable-declined")
        for t, hit, declined in curve(outcomes):
            marker = "  <- operating point" if abs(t - threshold) < 0.025 else ""
            print(f"  {t:5.2f}      {hit:6.1%}          {declined:6.1%}{marker}")
    basis = "calibrated answerability" if decider.calibration else "relevance (no calibration for this model)"
    print(f"{path.name}: {len(items)} questions, threshold {threshold:.3f} on {basis}")
    print(summary.line())
    below = (args.min_hit is not None and summary.hit_rate < args.min_hit) or (
        args.min_abstain is not None and summary.abstain_rate < args.min_abstain
    )
    return 1 if below else 0
