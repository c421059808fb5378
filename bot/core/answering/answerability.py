"""Whether the best quote answers the question: a small logistic model over what the ranking knows.

One relevance score cannot tell "on the subject" from "answers it": a question about the launch's
cost is as close to the launch articles as one about its date. The decision reads more evidence:
relevance and the margin over the runner-up; whether the question's most specific terms (by idf) are
in the sentence and its neighbours, and how specific the most specific missing one is; whether the
sentence holds the kind of answer asked for (money, a mass, a duration, a time, a date, a person, a
place, an organisation, a count); the question's type and script; questions made only of stop words.

The weights are fitted by ``make calibrate`` (``bot/calibration.py``) on SQuAD 2.0 and the launch
calibration set, and stored with the name of the embedding model they were fitted for in
``bot/core/answering/calibration/<model>.json``: similarities from another model mean something else, so with
any other model the bot warns once and falls back to the plain relevance threshold
(``min_confidence``).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.core.answering.answer_types import KINDS

logger = logging.getLogger(__name__)

CALIBRATION_DIR = Path(__file__).parent / "calibration"
FEATURES = (
    "relevance",
    "dense",
    "overlap",
    "margin",
    "runner_up_relevance",
    "specific_own",
    "specific_around",
    "missing_idf",
    "unknown_share",
    "chunk_coverage",
    "type_asked",
    "type_held",
    "type_held_around",
    "type_in_top",
    "question_latin",
    "sentence_latin",
    "script_gap",
    "content_terms",
    "stopwords_only",
    "specificity",
    "passage",
    "asks",
    *(f"kind_{kind}" for kind in KINDS),
    "own_share",
    "around_share",
    "chunk_missing",
    "names_missing",
    "names_missing_share",
    "pair_share",
    "negation",
    "question_length",
    "negation_unmatched",
    "degree_missing",
    "type_missing",
    # the reader (``reader``): its logit for the best sentence, whether it read it, the most it said
    # of any sentence, whether it read any
    "reader",
    "reader_read",
    "reader_max",
    "reader_any",
)
# What a question and a sentence in different scripts share that a model can read: a Hindi question
# and an English sentence have no term in common, so every lexical feature says "unrelated" even
# when the sentence answers. Such pairs are judged by a second model fitted on these features only
# (the multilingual embedding's similarity and the answer-type cues), on the same data. Not the
# reader's: it did not read the sentence in the other script, and what it said of the sentences it
# did read does not tell whether that one answers.
CROSS_SCRIPT_FEATURES = (
    "dense",
    "type_asked",
    "type_held",
    "type_held_around",
    "type_in_top",
    "type_missing",
    "content_terms",
    "question_length",
    "asks",
    "negation",
    *(f"kind_{kind}" for kind in KINDS),
)
CROSS_SCRIPT_GAP = 0.5  # question and best sentence this far apart in their share of Latin letters
# When the reader read nothing (a follow-up, whose "it" it cannot see; a Hindi question), its
# features are zeros that say nothing, far outside what the main model was fitted on (the reader
# reads nearly every question): it put every follow-up at 1.000. Such questions are judged by a twin
# fitted on the same data without them.
READER_FEATURES = ("reader", "reader_read", "reader_max", "reader_any")
UNREAD_FEATURES = tuple(name for name in FEATURES if name not in READER_FEATURES)


def calibration_file(model: str, directory: Path = CALIBRATION_DIR) -> Path:
    """Where the weights fitted for ``model`` live (one file per embedding model)."""
    slug = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in model)
    return directory / f"{slug}.json"


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model: P(answers) = sigmoid(intercept + coef . (x - mean) / scale)."""

    model: str
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    info: dict = field(default_factory=dict)
    cross_script: Calibration | None = None  # for a question and sentence in different scripts
    unread: Calibration | None = None  # for a question the reader read nothing of

    def probability(self, values: dict[str, float]) -> float:
        if self.cross_script is not None and values.get("script_gap", 0.0) >= CROSS_SCRIPT_GAP:
            return self.cross_script.probability(values)
        if self.unread is not None and not values.get("reader_any", 0.0):
            return self.unread.probability(values)
        x = np.array([values.get(name, 0.0) for name in self.features], dtype=np.float64)
        z = self.intercept + float(self.coef @ ((x - self.mean) / self.scale))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "features": list(self.features),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 4),
            **({"cross_script": self.cross_script.to_json()} if self.cross_script else {}),
            **({"unread": self.unread.to_json()} if self.unread else {}),
            **self.info,
        }

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        known = {"model", "features", "mean", "scale", "coef", "intercept", "threshold", "cross_script", "unread"}
        cross, unread = data.get("cross_script"), data.get("unread")
        return cls(
            model=data["model"],
            features=tuple(data["features"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            info={key: value for key, value in data.items() if key not in known},
            cross_script=cls.from_json(cross) if cross else None,
            unread=cls.from_json(unread) if unread else None,
        )


def load_calibration(model: str, directory: Path = CALIBRATION_DIR) -> Calibration | None:
    """The weights fitted for ``model``, or None (with a warning) when there are none or they are
    unreadable or were fitted for other features."""
    path = calibration_file(model, directory)
    if not path.is_file():
        logger.warning(
            "no answerability calibration for model %s (%s): deciding by relevance >= min_confidence "
            "instead. Run `make calibrate` to fit one.",
            model,
            path,
        )
        return None
    try:
        calibration = Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("unreadable answerability calibration %s (%s): deciding by relevance instead", path, exc)
        return None
    if calibration.model != model:
        logger.warning(
            "%s was fitted for model %s, not %s: deciding by relevance instead. Run `make calibrate`.",
            path,
            calibration.model,
            model,
        )
        return None
    twins = [twin for twin in (calibration.cross_script, calibration.unread) if twin]
    if set(calibration.features) - set(FEATURES) or any(set(twin.features) - set(FEATURES) for twin in twins):
        logger.warning("%s uses features this version does not compute: deciding by relevance instead", path)
        return None
    return calibration


@dataclass(frozen=True)
class Decider:
    """Answer or decline: the calibrated model when there is one for the index's model, else the
    relevance threshold. ``threshold`` applies to ``confidence``, whichever it is."""

    calibration: Calibration | None
    min_confidence: float
    override: float | None = None

    @property
    def threshold(self) -> float:
        if self.override is not None:
            return self.override
        return self.calibration.threshold if self.calibration else self.min_confidence

    def confidence(self, values: dict[str, float]) -> float:
        if self.calibration is None:
            return values["relevance"]
        return self.calibration.probability(values)
