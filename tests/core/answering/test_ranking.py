"""The learned ranking: which sentence is quoted first."""

from __future__ import annotations

import pytest

from bot.calibration import Group, fit_ranking, ranking_rates
from bot.core.answering.answerability import Calibration, load_calibration
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
