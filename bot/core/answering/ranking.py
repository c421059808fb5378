"""Which sentence is quoted first: a linear score over what each candidate sentence offers.

The reader sees the first quote first, so it must be the sentence holding the asked-for fact, not
merely the one most about the subject. Each candidate is described by a few features (similarity to
the question, idf-weighted term overlap, its passage's retrieval rank, whether and how near to the
question's words it holds the kind of answer asked for, whether it opens with a pronoun and comes
with the sentence naming its referent, whether it is a title or a question, its length), and scored
by a weighted sum.

The weights are learned by ``make calibrate`` (``bot/calibration.py``): a listwise (softmax) model
over the candidates of each answerable question of SQuAD 2.0 articles 0-7 and the launch calibration
set, where the sentences holding an expected answer are the right ones. Like the answerability
model they depend on the embedding model (its similarities have their own scale), so they are stored
beside it in ``bot/core/answering/calibration/<model>.json`` under ``"ranking"``, rescaled so that the
similarity weighs ``DENSE_SCALE``: scores keep the scale ``follow_ratio`` was chosen for. A model
without fitted weights uses ``DEFAULT_WEIGHTS``, set by hand on SQuAD before any fitting.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from bot.core.answering.answerability import Calibration

logger = logging.getLogger(__name__)

RANK_FEATURES = (
    "dense",  # cosine similarity (times the question's dense weight)
    "overlap",  # idf-weighted overlap, sentence and neighbours, scaled by the question's specificity
    "passage",  # its chunk's fused retrieval score relative to the best chunk
    "type_near",  # holds the asked kind of answer next to a word of the question
    "type_far",  # holds it further from the question's words
    "type_fallback",  # holds only a fallback kind (an organisation for "who")
    "type_around",  # a neighbouring sentence holds it
    "type_missing",  # a kind was asked and the sentence holds none
    "asks",  # a question or the document's title
    "pronoun",  # opens with a pronoun
    "antecedent",  # ... and is quoted with the sentence before it, which names the referent
    "length",  # log of its length in characters
    "cross",  # in the other script than the question (a multilingual model's evidence only)
)
DENSE_SCALE = 0.45  # fitted weights are rescaled so the similarity weighs this
DEFAULT_WEIGHTS = {
    "dense": 0.45,
    "overlap": 0.65,
    "passage": 0.05,
    "type_near": 0.1,
    "type_far": 0.075,
    "type_fallback": 0.05,
    "asks": -0.2,
    "type_missing": -0.1,
}


@dataclass(frozen=True)
class Ranking:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    fitted: bool = False

    def score(self, values: dict[str, float]) -> float:
        return sum(weight * values.get(name, 0.0) for name, weight in self.weights.items())

    def to_json(self, features: tuple[str, ...] = RANK_FEATURES) -> dict:
        return {name: round(self.weights.get(name, 0.0), 6) for name in features}


HAND_SET = Ranking()


def sentence_values(
    dense: float, overlap: float, passage: float, cue: float, cue_around: float, typed: bool, **flags: float
) -> dict[str, float]:
    """The ranking features of one sentence. ``cue``: 1 near the question's words, 0.75 further,
    0.5 a fallback kind (``answer_types.holds``); ``flags``: asks, pronoun, antecedent, length, cross."""
    return {
        "dense": dense,
        "overlap": overlap,
        "passage": passage,
        "type_near": 1.0 if cue >= 1.0 else 0.0,
        "type_far": 1.0 if 0.5 < cue < 1.0 else 0.0,
        "type_fallback": 1.0 if 0 < cue <= 0.5 else 0.0,
        "type_around": cue_around,
        "type_missing": 1.0 if typed and not cue else 0.0,
        "asks": flags.get("asks", 0.0),
        "pronoun": flags.get("pronoun", 0.0),
        "antecedent": flags.get("antecedent", 0.0),
        "length": math.log1p(flags.get("length", 0.0)),
        "cross": flags.get("cross", 0.0),
    }


def ranking_of(calibration: Calibration | None) -> Ranking:
    """The weights fitted with ``calibration`` (``make calibrate`` writes them into its file under
    ``"ranking"``), else the hand-set ones: a model with no usable calibration file is already warned
    about by ``load_calibration``."""
    weights = calibration.info.get("ranking") if calibration is not None else None
    if not isinstance(weights, dict) or set(weights) - set(RANK_FEATURES):
        return HAND_SET
    try:
        return Ranking({name: float(value) for name, value in weights.items()}, fitted=True)
    except (TypeError, ValueError):
        logger.warning("unreadable ranking weights for model %s: using the hand-set ones", calibration.model)
        return HAND_SET
