"""``make calibrate``: fit the answerability model (``bot/core/answering/answerability.py``) for the configured
embedding model, and write it to ``bot/core/answering/calibration/<model>.json``.

Data: SQuAD 2.0 half dev (``../shared/eval/squad2/dev-v2.0-half.json``) articles 0-7, three
quarters of the launch calibration set (``tests/data/launch_calibration.yaml``) and the "tune" items
of the Hindi set (``tests/data/hindi_qa.yaml``) to fit; SQuAD articles 8-15, the other launch
quarter (every fourth item) and the Hindi held-out items to validate. Two more kinds of question
the bot meets and SQuAD 2.0 holds few of: absent facts (``absent_fact_set``: on the articles'
subject, their answer taken out; from the reader's held-out SQuAD 1.1 training articles in
``../shared/data/squad/``, even articles fit, odd ones validate), and follow-ups (the tuning
dialogues fit, the held-out ones validate).

Two models are fitted, in order. First the ranking (``bot/core/answering/ranking.py``): which candidate
sentence is quoted first, learned from the candidates of every answerable question. Then, ranking
with it, every question is answered once with abstention off, and its decision features and whether
the answer was right (for launch items: right in its FIRST quote) fit the answerability model. Both
steps' data are cached under ``data/calibration/``, so refitting after a change to the fitting, not
to the features, takes seconds (``--cached``).

A positive example is a question the bot answers correctly; everything else (SQuAD's impossible
questions, the launch set's unanswerable ones, answerable questions answered wrongly) is negative:
declining a wrong answer costs nothing. The operating point is the highest threshold at which the
training SQuAD articles keep ``--keep`` of their hits, raised until it declines a quarter of their
impossible questions, and never so high that a launch training question answered right is declined.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.config import Settings, load_settings
from bot.core.answering.answerability import (
    CROSS_SCRIPT_FEATURES,
    FEATURES,
    UNREAD_FEATURES,
    Calibration,
    calibration_file,
)
from bot.core.answering.ranking import DENSE_SCALE, RANK_FEATURES, Ranking
from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.evaluation import (
    Item,
    Outcome,
    evaluate,
    evaluate_dialogues,
    fold,
    load_dialogues,
    load_yaml_set,
    question_set_missing,
    shared_eval_dir,
    squad_corpus,
    squad_settings,
)
from bot.training.pairs import SQUAD11, VALID_EVERY, VALID_V2_ARTICLES

logger = logging.getLogger(__name__)

SQUAD = shared_eval_dir() / "squad2" / "dev-v2.0-half.json"
LAUNCH = Path("tests/data/launch_calibration.yaml")
HINDI = Path("tests/data/hindi_qa.yaml")  # its "tune" items fit, its held-out ones validate
CACHE = Path("data/calibration")
TRAIN_ARTICLES = 8  # SQuAD articles 0-7 fit; 8-15 validate
LAUNCH_WEIGHT = 10.0  # a launch question weighs as much as this many SQuAD ones (there are ~50x fewer)
HOLDOUT_EVERY = 4  # every fourth launch item is held out
DECLINE = 0.25  # the operating point declines at least this share of impossible questions (issue 8)
# Questions whose fact was taken out of the articles (``absent_fact_set``): from the reader's held-out
# SQuAD 1.1 training articles (``SQUAD11``), never the evaluation sets.
ABSENT_PER_ARTICLE = 40  # questions of each kind drawn from each article
ABSENT_WEIGHT = 2.0  # where the held-out absent facts stopped gaining (weights 0-6: docs/experiments.md)
# Follow-ups, the one kind of question SQuAD has none of: our tuning dialogues fit, the held-out
# ones are only reported.
DIALOGUES = {
    "dialogue-train": Path("tests/data/dialogues_dev.yaml"),
    "dialogue-valid": Path("tests/data/dialogues_heldout.yaml"),
}
# A row's weight in the answerability fit, by the source of its split.
SPLIT_WEIGHT = {"launch": LAUNCH_WEIGHT, "absent": ABSENT_WEIGHT, "dialogue": LAUNCH_WEIGHT}


@dataclass
class Row:
    split: str  # squad-train, squad-valid, launch-train, launch-valid
    id: str
    answerable: bool
    correct: bool
    features: dict[str, float]
    first: bool = False  # right in its first quote

    @property
    def label(self) -> int:
        return int(self.answerable and self.correct)


@dataclass
class Group:
    """One answerable question's candidate sentences for the ranking: features, and which hold an
    expected answer."""

    split: str
    id: str
    values: list[dict[str, float]]
    labels: list[int]


def open_engines(settings: Settings, squad: Path) -> tuple[Engine, Engine, list[Item]]:
    """An engine over the SQuAD articles and one over the launch knowledge, both answering every
    question (abstention off), sharing one embedder; and the SQuAD items."""
    documents, items = squad_corpus(squad)
    squad_engine = _answering_engine(squad_settings(squad, settings, documents))
    return squad_engine, _answering_engine(settings, squad_engine.embedder), items


def _answering_engine(settings: Settings, embedder: Embedder | None = None, ranking: Ranking | None = None) -> Engine:
    """An open engine answering every question (abstention off), with ``ranking`` if given."""
    engine = Engine(_answer_all(settings), embedder)
    engine.open(notify=lambda message: print(message, file=sys.stderr))
    if ranking is not None:
        engine.use_ranking(ranking)
    return engine


def _squad_split(item: Item) -> str:
    return "squad-train" if int(item.doc_id or 0) < TRAIN_ARTICLES else "squad-valid"


def _launch_split(number: int, item: Item) -> str:
    if item.split is not None:  # the Hindi set marks its own held-out items
        return "launch-train" if item.split == "tune" else "launch-valid"
    return "launch-valid" if number % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "launch-train"


def absent_fact_set(source: Path, target: Path, seed: int = 7) -> Path:
    """A SQuAD-format file of the questions the bot meets most and SQuAD 2.0 has least: on the
    subject of the articles, about a fact they do not hold. From each of the reader's held-out SQuAD
    1.1 training articles, every other paragraph is kept; a question of a kept paragraph is
    answerable, and one of a dropped paragraph whose answer the kept ones never state is not. SQuAD
    2.0's impossible questions were written to match a sentence word for word; these match only
    the subject ("How old is Gerst?" over articles about Gerst)."""
    import gzip
    import random

    with gzip.open(source, "rt", encoding="utf-8") as handle:
        articles = json.load(handle)["data"]
    rng = random.Random(seed)
    chosen = []
    for number, article in enumerate(articles):
        if number % VALID_EVERY or article["title"] in VALID_V2_ARTICLES:
            continue  # the reader trained on it
        kept, dropped = article["paragraphs"][::2], article["paragraphs"][1::2]
        said = " ".join(p["context"] for p in kept).casefold()
        answerable = [qa for p in kept for qa in p["qas"]]
        absent = [
            {**qa, "answers": [], "plausible_answers": qa["answers"], "is_impossible": True}
            for p in dropped
            for qa in p["qas"]
            if not any(a["text"].strip().casefold() in said for a in qa["answers"])
        ]
        qas = rng.sample(answerable, min(ABSENT_PER_ARTICLE, len(answerable)))
        qas += rng.sample(absent, min(ABSENT_PER_ARTICLE, len(absent)))
        paragraphs = [{"context": p["context"], "qas": []} for p in kept]
        paragraphs[0]["qas"] = qas  # the corpus keeps the paragraphs; the items carry their answers
        chosen.append({"title": article["title"], "paragraphs": paragraphs})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"version": "absent-facts", "data": chosen}), encoding="utf-8")
    return target


def _absent_split(item: Item) -> str:
    return "absent-train" if int(item.doc_id or 0) % 2 == 0 else "absent-valid"


def collect_dialogues(engine: Engine, turns: int) -> list[Row]:
    """Every scored turn of the dialogue sets, each dialogue one conversation, abstention off."""
    rows = []
    for split, path in DIALOGUES.items():
        for o in evaluate_dialogues(load_dialogues(path), engine.answer, turns):
            rows.append(_outcome_row(split, o, o.first_if_answered))
    return rows


def collect_ranking(engines: tuple[Engine, Engine], squad_items: list[Item], launch_items: list[Item]) -> list[Group]:
    """The candidates of every answerable question, labelled by whether they hold an expected answer."""
    squad_engine, launch_engine = engines
    work = [(squad_engine, item, _squad_split(item)) for item in squad_items]
    work += [(launch_engine, item, _launch_split(n, item)) for n, item in enumerate(launch_items)]
    groups = []
    for engine, item, split in work:
        if not item.answerable:
            continue
        expected = [fold(e) for e in item.expect_any]
        candidates = engine.ranking_candidates(item.question)
        labels = [int(any(e in fold(text) for e in expected)) for text, _ in candidates]
        groups.append(Group(split, item.id, [values for _, values in candidates], labels))
    return groups


def fit_ranking(groups: list[Group], features: tuple[str, ...] = RANK_FEATURES, regularisation: float = 1.0) -> Ranking:
    """Listwise weights over ``features``: maximise, over the training questions, the softmax
    probability that the top candidate holds the answer (questions where none does teach nothing);
    rescaled so the similarity weighs ``DENSE_SCALE``."""
    from scipy.optimize import minimize

    train = [g for g in groups if g.split.endswith("train") and any(g.labels)]
    matrices = [np.array([[v.get(name, 0.0) for name in features] for v in g.values]) for g in train]
    labels = [np.array(g.labels, dtype=bool) for g in train]
    weights = np.array([LAUNCH_WEIGHT if g.split.startswith("launch") else 1.0 for g in train])
    scale = np.vstack(matrices).std(axis=0)
    scale[scale == 0] = 1.0
    standard = [m / scale for m in matrices]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = regularisation * float(w @ w), 2 * regularisation * w
        for x, right, weight in zip(standard, labels, weights, strict=True):
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            mass = p[right].sum()
            q = np.where(right, p / mass, 0.0)
            total -= weight * float(np.log(mass + 1e-12))
            grad += weight * (x.T @ (p - q))
        return total, grad

    fitted = minimize(loss, np.zeros(len(features)), jac=True, method="L-BFGS-B").x / scale
    dense = fitted[features.index("dense")]
    factor = DENSE_SCALE / dense if dense > 0 else 1.0
    return Ranking({name: float(w * factor) for name, w in zip(features, fitted, strict=True)}, fitted=True)


def ranking_rates(groups: list[Group], ranking: Ranking) -> dict[str, float]:
    """Share of the answerable questions (with an answer among the candidates) whose top candidate
    holds it, per split."""
    rates: dict[str, list[int]] = {}
    for g in groups:
        if any(g.labels):
            best = max(range(len(g.values)), key=lambda i: ranking.score(g.values[i]))
            rates.setdefault(g.split, []).append(g.labels[best])
    return {split: round(sum(v) / len(v), 4) for split, v in sorted(rates.items())}


def collect(engines: tuple[Engine, Engine], squad_items: list[Item], launch_items: list[Item]) -> list[Row]:
    """Answer every question once with abstention off; keep its decision features and correctness."""
    squad_engine, launch_engine = engines
    rows = squad_rows(squad_engine, squad_items, _squad_split)
    for number, outcome in enumerate(evaluate(launch_items, launch_engine.answer)):
        rows.append(_outcome_row(_launch_split(number, outcome.item), outcome, outcome.first_if_answered))
    return rows


def squad_rows(engine: Engine, items: list[Item], split_of: Callable[[Item], str]) -> list[Row]:
    """SQuAD-format questions (SQuAD's, the absent facts) answered once with abstention off: right
    when the answer holds a gold answer anywhere."""
    return [
        _outcome_row(split_of(o.item), o, o.correct_if_answered) for o in evaluate(items, engine.answer, progress=True)
    ]


def _outcome_row(split: str, outcome: Outcome, correct: bool) -> Row:
    return _row(split, outcome.item, correct, outcome.answer.assessment, outcome.first_if_answered)


def _answer_all(settings: Settings) -> Settings:
    return settings.model_copy(update={"min_confidence": -1.0, "answer_threshold": -1.0})


def _row(split: str, item: Item, correct: bool, features: dict[str, float] | None, first: bool) -> Row:
    # No features: refused before scoring (metadata questions, empty input); such rows teach nothing.
    return Row(split, item.id, item.answerable, correct, dict(features or {}), first)


def fit(rows: list[Row], model: str, keep: float, regularisation: float) -> Calibration:
    """The answerability model, with its cross-script twin (``CROSS_SCRIPT_FEATURES``) and its twin
    for questions the reader read nothing of (``UNREAD_FEATURES``), each with its intercept shifted
    so that one threshold serves all: a confidence means the same either way."""
    train = [r for r in rows if r.split.endswith("train") and r.features]
    main = _fit_one(train, model, FEATURES, keep, regularisation)

    def twin(features: tuple[str, ...]) -> Calibration:
        fitted = _fit_one(train, model, features, keep, regularisation)
        shift = _logit(main.threshold) - _logit(fitted.threshold)
        return replace(fitted, intercept=fitted.intercept + shift, threshold=main.threshold)

    return replace(main, cross_script=twin(CROSS_SCRIPT_FEATURES), unread=twin(UNREAD_FEATURES))


def _fit_one(
    train: list[Row], model: str, features: tuple[str, ...], keep: float, regularisation: float
) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    x = _matrix(train, features)
    y = np.array([r.label for r in train])
    weights = np.array([SPLIT_WEIGHT.get(r.split.split("-")[0], 1.0) for r in train])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    classifier = LogisticRegression(C=regularisation, max_iter=2000)
    classifier.fit((x - mean) / scale, y, sample_weight=weights)
    calibration = Calibration(model, features, mean, scale, classifier.coef_[0], float(classifier.intercept_[0]), 0.5)
    threshold = operating_point(train, calibration, keep)
    return Calibration(model, features, mean, scale, calibration.coef, calibration.intercept, threshold)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _matrix(rows: list[Row], features: tuple[str, ...] = FEATURES) -> np.ndarray:
    return np.array([[r.features.get(name, 0.0) for name in features] for r in rows], dtype=np.float64)


def operating_point(train: list[Row], calibration: Calibration, keep: float, decline: float = DECLINE) -> float:
    """The highest threshold keeping ``keep`` of the training SQuAD hits, raised if need be until it
    declines ``decline`` of the training SQuAD impossible questions, but never so high that a launch
    training question answered right is declined."""
    probabilities = {id(r): calibration.probability(r.features) for r in train}
    squad_hits = [probabilities[id(r)] for r in train if r.split == "squad-train" and r.label]
    impossible = [probabilities[id(r)] for r in train if r.split == "squad-train" and not r.answerable]
    launch_hits = [probabilities[id(r)] for r in train if r.split == "launch-train" and r.label]
    squad_floor = float(np.quantile(squad_hits, 1 - keep)) if squad_hits else 1.0
    decline_floor = float(np.quantile(impossible, decline)) + 2e-4 if impossible else 0.0
    launch_floor = min(launch_hits, default=1.0)
    return round(min(max(squad_floor, decline_floor), launch_floor) - 1e-4, 4)


def rates(rows: list[Row], calibration: Calibration, threshold: float, split: str) -> tuple[float, float, int, int]:
    """(answerable hit rate, unanswerable decline rate, answerable count, unanswerable count)."""
    chosen = [r for r in rows if r.split == split]
    answerable = [r for r in chosen if r.answerable]
    unanswerable = [r for r in chosen if not r.answerable]

    def answered(r: Row) -> bool:
        return bool(r.features) and calibration.probability(r.features) >= threshold

    hit = sum(answered(r) and r.correct for r in answerable) / max(len(answerable), 1)
    declined = sum(not answered(r) for r in unanswerable) / max(len(unanswerable), 1)
    return hit, declined, len(answerable), len(unanswerable)


def report(rows: list[Row], calibration: Calibration) -> dict:
    """Figures at the operating point for every split, and the validation trade-off curve."""
    figures = {}
    splits = [f"{source}-{part}" for source in ("squad", "launch", "absent", "dialogue") for part in ("train", "valid")]
    for split in [s for s in splits if any(r.split == s for r in rows)]:
        hit, declined, n_yes, n_no = rates(rows, calibration, calibration.threshold, split)
        figures[split] = {
            "answerable_hit": round(hit, 4),
            "unanswerable_declined": round(declined, 4),
            "answerable": n_yes,
            "unanswerable": n_no,
        }
    curve = []
    for step in range(0, 21):
        threshold = step / 20
        hit, declined, _, _ = rates(rows, calibration, threshold, "squad-valid")
        curve.append([threshold, round(hit, 4), round(declined, 4)])
    return {"figures": figures, "curve_squad_valid": curve}


def _load_groups(path: Path) -> list[Group]:
    return [Group(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as handle:
        return [Row(**json.loads(line)) for line in handle if line.strip()]


def _save(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def extra_rows(settings: Settings, ranking: Ranking, cache: Path, cached: bool) -> list[Row]:
    """The absent-fact questions and the dialogues' turns, each cached beside the main rows."""
    rows = []
    for kind, collector in (("absent", _absent_rows), ("dialogues", _dialogue_rows)):
        path = cache.with_name(cache.name.replace(".rows.", f".{kind}."))
        if not (cached and path.is_file()):
            _save(path, [r.__dict__ for r in collector(settings, ranking)])
        rows += load_rows(path)
    return rows


def _absent_rows(settings: Settings, ranking: Ranking) -> list[Row]:
    source = absent_fact_set(SQUAD11, CACHE / "absent-facts.json")
    documents, items = squad_corpus(source)
    engine = _answering_engine(squad_settings(source, settings, documents), ranking=ranking)
    return squad_rows(engine, items, _absent_split)


def _dialogue_rows(settings: Settings, ranking: Ranking) -> list[Row]:
    return collect_dialogues(_answering_engine(settings, ranking=ranking), settings.chat.conversation_turns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--launch", type=Path, default=LAUNCH)
    parser.add_argument("--hindi", type=Path, default=HINDI)
    parser.add_argument("--cached", action="store_true", help="refit on the cached features of the last run")
    parser.add_argument(
        "--reuse-ranking", action="store_true", help="take the ranking's candidates from the last run's cache"
    )
    parser.add_argument("--limit", type=int, help="only the first N SQuAD questions (a quick look)")
    parser.add_argument("--keep", type=float, default=0.975, help="share of training SQuAD hits to keep")
    parser.add_argument("-C", type=float, default=1.0, dest="regularisation", help="inverse L2 strength")
    parser.add_argument("--dry-run", action="store_true", help="report, but do not write the calibration file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.cached and not args.squad.is_file():
        print(f"python -m bot.calibration: {question_set_missing(args.squad)}", file=sys.stderr)
        return 2
    settings = load_settings()
    from bot.core.embed.embedding import model_identity

    model = model_identity(settings.model)
    cache = CACHE / calibration_file(model, CACHE).name.replace(".json", ".rows.jsonl")
    ranking_cache = cache.with_name(cache.name.replace(".rows.", ".ranking."))
    if args.cached and cache.is_file() and ranking_cache.is_file():
        rows, groups = load_rows(cache), _load_groups(ranking_cache)
        ranking = fit_ranking(groups)
    else:
        started = time.perf_counter()
        squad_engine, launch_engine, items = open_engines(settings, args.squad)
        items = items[: args.limit] if args.limit else items
        launch_items = load_yaml_set(args.launch) + load_yaml_set(args.hindi)
        engines = (squad_engine, launch_engine)
        # In turn: the ranking (its candidates do not depend on the reader: --reuse-ranking takes the
        # last run's); with it, every question answered once for the answerability model.
        if args.reuse_ranking and ranking_cache.is_file():
            groups = _load_groups(ranking_cache)
        else:
            groups = collect_ranking(engines, items, launch_items)
            _save(ranking_cache, [g.__dict__ for g in groups])
        ranking = fit_ranking(groups)
        for engine in engines:
            engine.use_ranking(ranking)
        rows = collect(engines, items, launch_items)
        _save(cache, [r.__dict__ for r in rows])
        print(f"answered {len(rows)} questions in {time.perf_counter() - started:.0f}s; cached in {cache}")
    rows = rows + extra_rows(settings, ranking, cache, args.cached)
    print("first sentence holds the answer (answerable questions):")
    print(f"  hand-set ranking {ranking_rates(groups, Ranking())}")
    print(f"  fitted ranking   {ranking_rates(groups, ranking)}")
    calibration = fit(rows, model, args.keep, args.regularisation)
    summary = report(rows, calibration)
    info = {
        "fitted": time.strftime("%Y-%m-%d", time.gmtime()),
        "data": "SQuAD 2.0 half dev articles 0-7 + launch calibration items (3 of 4); validated on 8-15 + the 4th",
        "keep": args.keep,
        **summary,
    }
    calibration = replace(calibration, info={**info, "ranking": ranking.to_json()})
    for split, figures in summary["figures"].items():
        print(f"{split:13s} {figures}")
    print("threshold  squad-valid hit  impossible declined")
    for threshold, hit, declined in summary["curve_squad_valid"]:
        mark = "  <- operating point" if abs(threshold - calibration.threshold) < 0.025 else ""
        print(f"  {threshold:4.2f}       {hit:6.1%}          {declined:6.1%}{mark}")
    print(f"operating point: {calibration.threshold}")
    for name, coef in sorted(zip(FEATURES, calibration.coef, strict=True), key=lambda item: -abs(item[1]))[:12]:
        print(f"  {name:22s} {coef:+.3f}")
    if not args.dry_run:
        target = calibration_file(model)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(calibration.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
