"""Follow-up questions: which questions lean on the conversation, and what the real engine makes of
them with and without their history (real model, real index)."""

from __future__ import annotations

import pytest

from bot.core.answering.conversation import (
    CONTEXT_WEIGHT,
    Turn,
    context_for,
    leans_on_context,
    quoted_sentences,
    turn_of,
)
from bot.evaluation import evaluate_dialogues, load_dialogues
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
ANSWERED = ("“Progress 71 successfully brought 2,564 kg of goods to the ISS station on November 18.”",)


@pytest.mark.parametrize(
    "question",
    [
        "When did it dock?",
        "Which expedition does he command?",
        "When did his crew arrive at the station?",
        "What did Russia do after that?",
        "When is the next launch from there?",
        "And the crew?",
        "What about the Expedition 58 crew?",
        "And how about Gerst?",
        "Why?",
        "How many people?",
        "At what time?",
        "इसे किसने कैप्चर किया?",
        "वह कितनी ऊपर से देख रहे थे?",
        "और उसे कितने लोगों ने देखा?",
    ],
)
def test_questions_that_lean_on_the_conversation(question):
    assert leans_on_context(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "When did Progress 71 dock?",
        "Which expedition does Alexander Gerst command?",
        "How much cargo did Progress MS-10 bring to the ISS?",
        "How do I bake sourdough bread?",
        "रॉकेट लॉन्च का वीडियो किसने शेयर किया?",
        "And what is the capital of Australia?",
        "Also, which expedition does Alexander Gerst command?",
    ],
)
def test_questions_that_stand_on_their_own(question):
    assert not leans_on_context(question)


def test_context_comes_from_answered_turns_fading_with_distance():
    history = [
        Turn("What is Progress 71?", ANSWERED),
        Turn("Who recorded the launch video?", ("Astronaut Alexander Gerst recorded it.",)),
        Turn("How do I bake sourdough bread?"),  # declined: lends nothing
    ]
    context = context_for("When did it dock?", history)
    assert [text for text, _ in context.parts] == ["Who recorded the launch video?", "What is Progress 71?"]
    weights = context.term_weights()
    assert weights["video"] == CONTEXT_WEIGHT and weights["71"] == CONTEXT_WEIGHT / 2
    assert "bread" not in weights and "gerst" not in weights  # answers lend nothing either
    assert context_for("When did Progress 71 dock?", history) is None
    assert context_for("When did it dock?", []) is None
    assert context_for("When did it dock?", [Turn("How do I bake sourdough bread?")]) is None


def test_context_lends_what_earlier_questions_were_about_not_how_they_asked():
    history = [Turn("प्रोग्रेस MS-10 का प्रक्षेपण कब हुआ था?", ("“…16 नवंबर को हुआ था.”",))]
    weights = context_for("इसे किसने कैप्चर किया?", history).term_weights()
    assert {"प्रोग्रेस", "ms10", "प्रक्षेपण"} <= weights.keys()
    assert not {"कब", "हुआ"} & weights.keys()


def test_quoted_sentences_and_turns_from_answers(launch_engine):
    assert quoted_sentences("“One.” [1] “Two, cut…” [2]") == ("One.", "Two, cut")
    answer = launch_engine.answer("When did Progress 71 dock?")
    turn = turn_of(answer)
    assert turn.answered and turn.question == answer.question
    assert turn.quotes and answer.text.startswith(f"“{turn.quotes[0]}")
    declined = turn_of(launch_engine.answer("How do I bake sourdough bread?"))
    assert not declined.answered and declined.quotes == ()


def test_a_follow_up_is_answered_from_its_history_and_not_without(launch_engine):
    history = [turn_of(launch_engine.answer("What is Progress 71?"))]
    alone = launch_engine.answer("When did it dock?")
    followed = launch_engine.answer("When did it dock?", history)
    assert not alone.answered
    assert followed.answered and "November 18" in quoted_sentences(followed.text)[0]


def test_a_follow_up_is_weighed_not_waved_through(launch_engine):
    # The reader does not read a follow-up; the main model read its four zeros as far outside its
    # training data and put every follow-up at 1.000. The twin fitted without them judges it.
    history = [turn_of(launch_engine.answer("What is Progress 71?"))]
    calibration = launch_engine.decider.calibration
    assert calibration is not None and calibration.unread is not None
    for question in ("When did it dock?", "Who built it?", "How heavy was it?"):
        answer = launch_engine.answer(question, history)
        assert answer.assessment["reader_any"] == 0.0
        assert answer.confidence == pytest.approx(calibration.unread.probability(answer.assessment))
        assert answer.confidence < 0.9, (question, answer.confidence)


def test_a_question_that_stands_alone_is_answered_as_if_alone(launch_engine):
    history = [turn_of(launch_engine.answer("Why was the October launch aborted?"))]
    for question in ("Where was the rocket launched from?", "What is the capital of Australia?"):
        assert launch_engine.answer(question, history) == launch_engine.answer(question)


@pytest.mark.parametrize(
    "question", ["What is the capital of Australia?", "And what is the capital of Australia?", "How do I bake it?"]
)
def test_context_never_makes_an_unrelated_question_answerable(launch_engine, question):
    history = [turn_of(launch_engine.answer("When did Progress 71 dock?"))]
    assert history[0].answered
    assert not launch_engine.answer(question, history).answered


# The public set and our own. dlg-02 turn 1 ("Who recorded the launch video?") is a single-question
# first-quote miss (answer ranking, issue 8) and dlg-05 turn 2 needs cross-lingual retrieval (an
# English follow-up answered from the Hindi article: the multilingual model, issue 7). Not strict, so
# the change that fixes one lands green: it then shows as XPASS, and its entry should go.
# Misses that wait on other work; strict, so a miss that starts passing fails here until it is removed.
KNOWN_MISSES = {
    "dlg-02": "e5 ranks the Hindi sentence on who shared the video above the two naming Gerst",
    "dev-dlg-01": '"Through which window?" quotes the ISS-window sentence before the Cupola one',
}


def _dialogues(name):
    return [
        pytest.param(
            dialogue,
            id=dialogue.id,
            marks=[pytest.mark.xfail(reason=KNOWN_MISSES[dialogue.id], strict=True)]
            if dialogue.id in KNOWN_MISSES
            else [],
        )
        for dialogue in load_dialogues(DATA / name)
    ]


@pytest.mark.parametrize("dialogue", _dialogues("dialogues.yaml") + _dialogues("dialogues_dev.yaml"))
def test_dialogues(launch_engine, dialogue):
    outcomes = evaluate_dialogues([dialogue], launch_engine.answer, launch_engine.settings.chat.conversation_turns)
    threshold = launch_engine.decider.threshold
    failed = [(o.item.id, o.item.question, o.answer.text[:120]) for o in outcomes if not o.hit(threshold)]
    assert not failed
