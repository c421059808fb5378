"""The answerability model: tied to the embedding model it was fitted for, round-tripping through its
file, its cross-script twin judging a question and a sentence in different scripts, and its unread
twin judging a question the reader read nothing of."""

from __future__ import annotations

import json
import logging

import pytest

from bot.calibration import Row as CalibrationRow
from bot.calibration import fit
from bot.core.answering.answerability import (
    CROSS_SCRIPT_FEATURES,
    FEATURES,
    READER_FEATURES,
    UNREAD_FEATURES,
    Calibration,
    calibration_file,
    load_calibration,
)
from bot.core.embed.embedding import E5_ID


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


def test_a_question_the_reader_read_nothing_of_is_judged_without_the_readers_features():
    calibration = load_calibration(E5_ID)
    assert calibration is not None and calibration.unread is not None
    assert set(calibration.unread.features) == set(UNREAD_FEATURES)
    assert not set(READER_FEATURES) & set(calibration.unread.features)
    values = {name: 0.0 for name in FEATURES} | {"dense": 0.5, "relevance": 0.5, "overlap": 0.5}
    values |= {"question_latin": 1.0, "sentence_latin": 1.0}
    unread = calibration.probability(values)  # a follow-up: the reader was not given it
    assert unread == pytest.approx(calibration.unread.probability(values))
    # Read by the main model, the reader's zeros lie far outside anything it was fitted on (the
    # reader reads nearly every question): the follow-ups of the launch dialogues came out at 1.000.
    read = values | {"reader_any": 1.0, "reader_read": 1.0}
    assert calibration.probability(read) != pytest.approx(unread)
    again = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert again.probability(values) == pytest.approx(unread)


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
    assert calibration.cross_script is not None and calibration.unread is not None
    assert calibration.cross_script.threshold == calibration.threshold == calibration.unread.threshold
    answering = rows[0].features | {"script_gap": 1.0}
    assert calibration.probability(answering) >= calibration.threshold


def test_a_calibration_for_another_model_is_refused_with_a_warning(tmp_path, caplog):
    calibration = load_calibration("sentence-transformers/all-MiniLM-L6-v2")
    assert calibration is not None, "the default model ships a calibration (make calibrate)"
    stolen = calibration_file("some/other-model", tmp_path)
    stolen.write_text(json.dumps(calibration.to_json()))
    with caplog.at_level(logging.WARNING):
        assert load_calibration("some/other-model", tmp_path) is None
        assert load_calibration("a/model-never-calibrated", tmp_path) is None
    assert "fitted for model" in caplog.text and "make calibrate" in caplog.text


def test_the_calibration_round_trips_through_its_file():
    calibration = load_calibration("sentence-transformers/all-MiniLM-L6-v2")
    again = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    values = {name: 0.5 for name in calibration.features}
    assert again.probability(values) == pytest.approx(calibration.probability(values))
    assert 0.0 < calibration.threshold < 1.0
