"""The learned ranking (which sentence is quoted first), the cross-script answerability twin, and
the answer types they read."""

from __future__ import annotations

import json

import pytest

from bot.calibration import Group, fit, fit_ranking, ranking_rates
from bot.calibration import Row as CalibrationRow
from bot.core.answering import answer_types
from bot.core.answering.answerability import CROSS_SCRIPT_FEATURES, FEATURES, Calibration, load_calibration
from bot.core.answering.ranking import DENSE_SCALE, HAND_SET, RANK_FEATURES, Ranking, ranking_of, sentence_values
from bot.core.embed.embedding import E5_ID, MINILM_ID


def _values(dense: float, near: bool) -> dict[str, float]:
    return sentence_values(dense=dense, overlap=0.3, passage=1.0, cue=1.0 if near else 0.0, cue_around=0.0, typed=True)


def _groups(count: int) -> list[Group]:
    """Questions whose right sentence holds the asked kind of answer but is slightly less similar
    than a wrong one: similarity alone ranks them wrong."""
    groups = []
    for number in range(count):
        values = [_values(0.62, near=False), _values(0.58, near=True), _values(0.40, near=False)]
        groups.append(Group("squad-train" if number % 4 else "squad-valid", str(number), values, [0, 1, 0]))
    return groups


def test_the_fitted_ranking_learns_what_puts_the_answer_first():
    groups = _groups(40)
    dense_only = Ranking({"dense": 1.0})
    assert ranking_rates(groups, dense_only) == {"squad-train": 0.0, "squad-valid": 0.0}
    ranking = fit_ranking(groups)
    assert ranking.fitted and ranking.weights["dense"] == pytest.approx(DENSE_SCALE)
    assert ranking.weights["type_near"] > 0.0
    assert ranking_rates(groups, ranking) == {"squad-train": 1.0, "squad-valid": 1.0}


@pytest.mark.parametrize("model", [E5_ID, MINILM_ID])
def test_each_shipped_model_has_fitted_ranking_weights(model):
    ranking = ranking_of(load_calibration(model))
    assert ranking.fitted and set(ranking.weights) <= set(RANK_FEATURES)
    assert ranking.weights["dense"] == pytest.approx(DENSE_SCALE)


def test_a_model_without_weights_ranks_by_the_hand_set_ones(tmp_path):
    assert ranking_of(load_calibration("a/model-never-calibrated", tmp_path)) is HAND_SET
    shipped = load_calibration(E5_ID)
    assert shipped is not None
    for weights in ({"no-such-feature": 1.0}, {"dense": "heavy"}, None):
        broken = Calibration.from_json({**shipped.to_json(), "ranking": weights})
        assert ranking_of(broken) is HAND_SET


def test_a_question_and_sentence_in_different_scripts_are_judged_by_the_cross_script_model():
    calibration = load_calibration(E5_ID)
    assert calibration is not None and calibration.cross_script is not None
    assert set(calibration.cross_script.features) == set(CROSS_SCRIPT_FEATURES)
    values = {name: 0.0 for name in FEATURES} | {"dense": 0.5, "type_asked": 1.0, "type_held": 1.0}
    same = calibration.probability(values | {"script_gap": 0.0})
    across = calibration.probability(values | {"script_gap": 1.0})
    assert across == pytest.approx(calibration.cross_script.probability(values))
    assert across != pytest.approx(same)
    again = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert again.probability(values | {"script_gap": 1.0}) == pytest.approx(across)


def test_fitting_shifts_the_cross_script_model_to_the_main_threshold():
    rows = []
    for number in range(200):
        answers = number % 2 == 0
        features = {name: 0.0 for name in FEATURES} | {
            "dense": 0.7 if answers else 0.3,
            "relevance": 0.7 if answers else 0.3,
            "type_held": 1.0 if answers or number % 3 == 0 else 0.0,
        }
        rows.append(CalibrationRow("squad-train", str(number), answers, answers, features))
    calibration = fit(rows, "some/model", keep=0.975, regularisation=1.0)
    assert calibration.cross_script is not None
    assert calibration.cross_script.threshold == calibration.threshold
    answering = rows[0].features | {"script_gap": 1.0}
    assert calibration.probability(answering) >= calibration.threshold


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("How old is Alexander Gerst?", (answer_types.AGE, answer_types.DURATION)),
        ("At what age did she retire?", (answer_types.AGE, answer_types.DURATION)),
        ("How long did the launch take?", (answer_types.DURATION, answer_types.COUNT)),
    ],
)
def test_an_age_is_asked_for_as_an_age(question, kinds):
    assert answer_types.asked_types(question) == kinds


def test_a_number_near_a_name_is_not_an_age():
    kinds = answer_types.asked_types("How old is Gerst?")
    assert answer_types.holds("Gerst, the commander of Expedition 57, filmed it.", kinds[:1], set()) == 0.0
    assert answer_types.holds("Gerst, 42 years old, filmed it.", kinds[:1], set()) > 0.0
    assert answer_types.holds("She retired at the age of 61.", kinds[:1], set()) > 0.0
