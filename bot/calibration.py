"""``make calibrate``: fit the answerability model (``bot/core/answerability.py``) for the configured
embedding model, and write it to ``bot/core/calibration/<model>.json``.

Data: SQuAD 2.0 half dev (``../shared/eval/squad2/dev-v2.0-half.json``) articles 0-7 and three
quarters of the launch calibration set (``tests/data/launch_calibration.yaml``) to fit; SQuAD
articles 8-15 and the other launch quarter (every fourth item) held out to validate. Every question
is answered once with abstention off; its decision features and whether the answer was right (for
launch items: right in its FIRST quote) are cached under ``data/calibration/``, so refitting after a
change to the model, not to the features, takes seconds (``--cached``).

A positive example is a question the bot answers correctly; everything else (SQuAD's impossible
questions, the launch set's unanswerable ones, answerable questions answered wrongly) is negative:
declining a wrong answer costs nothing. The operating point is the highest threshold at which the
training SQuAD articles keep ``--keep`` of their hits and no launch training question the bot
answers correctly is declined.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import Settings, load_settings
from bot.core.answerability import FEATURES, Calibration, calibration_file
from bot.evaluation import Item, evaluate, load_yaml_set, squad_corpus, squad_settings

logger = logging.getLogger(__name__)

SQUAD = Path("../shared/eval/squad2/dev-v2.0-half.json")
LAUNCH = Path("tests/data/launch_calibration.yaml")
CACHE = Path("data/calibration")
TRAIN_ARTICLES = 8  # SQuAD articles 0-7 fit; 8-15 validate
LAUNCH_WEIGHT = 10.0  # a launch question weighs as much as this many SQuAD ones (there are ~50x fewer)
HOLDOUT_EVERY = 4  # every fourth launch item is held out


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


def collect(settings: Settings, squad: Path, launch: Path, limit: int | None = None) -> list[Row]:
    """Answer every question once with abstention off; keep its decision features and correctness."""
    from bot.core.engine import Engine

    rows: list[Row] = []
    documents, items = squad_corpus(squad)
    if limit:
        items = items[:limit]
    squad_engine = Engine(_answer_all(squad_settings(squad, settings, documents)))
    squad_engine.open(notify=lambda message: print(message, file=sys.stderr))
    for outcome in evaluate(items, squad_engine.answer, progress=True):
        split = "squad-train" if int(outcome.item.doc_id or 0) < TRAIN_ARTICLES else "squad-valid"
        rows.append(
            _row(split, outcome.item, outcome.correct_if_answered, outcome.answer.assessment, outcome.first_if_answered)
        )
    launch_engine = Engine(_answer_all(settings), squad_engine.embedder)
    launch_engine.open(notify=lambda message: print(message, file=sys.stderr))
    for number, outcome in enumerate(evaluate(load_yaml_set(launch), launch_engine.answer)):
        split = "launch-valid" if number % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "launch-train"
        rows.append(
            _row(split, outcome.item, outcome.first_if_answered, outcome.answer.assessment, outcome.first_if_answered)
        )
    return rows


def _answer_all(settings: Settings) -> Settings:
    return settings.model_copy(update={"min_confidence": -1.0, "answer_threshold": -1.0})


def _row(split: str, item: Item, correct: bool, features: dict[str, float] | None, first: bool) -> Row:
    # No features: refused before scoring (metadata questions, empty input); such rows teach nothing.
    return Row(split, item.id, item.answerable, correct, dict(features or {}), first)


def fit(rows: list[Row], model: str, keep: float, regularisation: float) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r.split.endswith("train") and r.features]
    x = _matrix(train)
    y = np.array([r.label for r in train])
    weights = np.array([LAUNCH_WEIGHT if r.split.startswith("launch") else 1.0 for r in train])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    classifier = LogisticRegression(C=regularisation, max_iter=2000)
    classifier.fit((x - mean) / scale, y, sample_weight=weights)
    calibration = Calibration(model, FEATURES, mean, scale, classifier.coef_[0], float(classifier.intercept_[0]), 0.5)
    threshold = operating_point(train, calibration, keep)
    return Calibration(model, FEATURES, mean, scale, calibration.coef, calibration.intercept, threshold)


def _matrix(rows: list[Row]) -> np.ndarray:
    return np.array([[r.features.get(name, 0.0) for name in FEATURES] for r in rows], dtype=np.float64)


def operating_point(train: list[Row], calibration: Calibration, keep: float) -> float:
    """The highest threshold keeping ``keep`` of the training SQuAD hits and every launch training
    question answered right."""
    probabilities = {id(r): calibration.probability(r.features) for r in train}
    squad_hits = [probabilities[id(r)] for r in train if r.split == "squad-train" and r.label]
    launch_hits = [probabilities[id(r)] for r in train if r.split == "launch-train" and r.label]
    squad_floor = float(np.quantile(squad_hits, 1 - keep)) if squad_hits else 1.0
    launch_floor = min(launch_hits, default=1.0)
    return round(min(squad_floor, launch_floor) - 1e-4, 4)


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
    for split in ("squad-train", "squad-valid", "launch-train", "launch-valid"):
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


def load_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as handle:
        return [Row(**json.loads(line)) for line in handle if line.strip()]


def save_rows(path: Path, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for r in rows:
            handle.write(json.dumps(r.__dict__, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD)
    parser.add_argument("--launch", type=Path, default=LAUNCH)
    parser.add_argument("--cached", action="store_true", help="refit on the cached features of the last run")
    parser.add_argument(
        "--cached-squad", action="store_true", help="reuse the cached SQuAD features, answer the launch set again"
    )
    parser.add_argument("--limit", type=int, help="only the first N SQuAD questions (a quick look)")
    parser.add_argument("--keep", type=float, default=0.975, help="share of training SQuAD hits to keep")
    parser.add_argument("-C", type=float, default=1.0, dest="regularisation", help="inverse L2 strength")
    parser.add_argument("--dry-run", action="store_true", help="report, but do not write the calibration file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    from bot.core.embedding import model_identity

    model = model_identity(settings.model)
    cache = CACHE / calibration_file(model, CACHE).name.replace(".json", ".rows.jsonl")
    if args.cached and cache.is_file():
        rows = load_rows(cache)
    elif args.cached_squad and cache.is_file():
        rows = [r for r in load_rows(cache) if r.split.startswith("squad")]
        rows += collect(settings, None, args.launch)
        save_rows(cache, rows)
    else:
        started = time.perf_counter()
        rows = collect(settings, args.squad, args.launch, args.limit)
        save_rows(cache, rows)
        print(f"answered {len(rows)} questions in {time.perf_counter() - started:.0f}s; cached in {cache}")
    calibration = fit(rows, model, args.keep, args.regularisation)
    summary = report(rows, calibration)
    info = {
        "fitted": time.strftime("%Y-%m-%d", time.gmtime()),
        "data": "SQuAD 2.0 half dev articles 0-7 + launch calibration items (3 of 4); validated on 8-15 + the 4th",
        "keep": args.keep,
        **summary,
    }
    calibration = Calibration(**{**calibration.__dict__, "info": info})
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
