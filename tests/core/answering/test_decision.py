"""Deciding to answer: near-topic questions the articles do not answer and questions with no content
are declined, a decline points at the closest passage without claiming it answers."""

from __future__ import annotations

import pytest

from bot.core.engine import Engine


# Near-topic questions the bot still answers with an unrelated quote ("How much fuel does a Soyuz
# rocket carry?", "How old is Gerst?"): README, "Answer quality", known misses.
@pytest.mark.parametrize(
    "question",
    [
        "How much did the mission cost?",
        "How much did a ticket to watch the launch cost?",
        "Who is the CEO of SpaceX?",
    ],
)
def test_near_topic_questions_the_articles_do_not_answer_are_declined(launch_engine: Engine, question):
    answer = launch_engine.answer(question)
    assert not answer.answered, answer.text
    assert answer.sources == []


@pytest.mark.parametrize("question", ["है", "यह है?", "आज मौसम कैसा है?", "भारत की राजधानी क्या है?", "और"])
def test_hindi_questions_on_other_subjects_or_with_no_content_are_declined(launch_engine: Engine, question):
    answer = launch_engine.answer(question)
    assert not answer.answered, answer.text


def test_a_decline_points_at_the_closest_passage_without_claiming_it(launch_engine: Engine):
    answer = launch_engine.answer("How much did a ticket to watch the launch cost?")
    assert not answer.answered
    assert answer.closest is not None, "a near-topic question has a related passage to show"
    assert answer.closest.quote not in answer.text


def test_no_dense_weight_and_no_content_terms_does_not_crash(settings, embedder):
    engine = Engine(settings.model_copy(update={"cross_script_dense_weight": 0.0}), embedder)
    engine.open()
    assert not engine.answer("है").answered
