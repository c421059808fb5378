"""Typos: question words the articles and English do not know are corrected to the articles' words."""

from __future__ import annotations

from bot.core.answering.typos import Speller
from bot.core.engine import Engine
from tests.helpers import KNOWLEDGE


def test_typos_are_corrected_to_the_corpus_vocabulary_but_real_words_are_kept():
    speller = Speller.from_texts(path.read_text(encoding="utf-8") for path in KNOWLEDGE.glob("*.md"))
    assert speller.correct("whn was progess 71 launchd").text == "when was progress 71 launch"
    assert speller.correct("who recordd the vid from the statoin?").text == "who recorded the vid from the station?"
    for question in ("How much fuel does a Soyuz carry?", "What was the weather like?", "How old is Gerst?"):
        assert speller.correct(question).changes == ()


def test_a_question_with_typos_is_answered_as_if_spelt_right(launch_engine: Engine):
    typed = launch_engine.answer("whn was progess 71 launchd")
    spelt = launch_engine.answer("when was progress 71 launch")
    assert typed.answered and typed.text == spelt.text
    assert any(day in typed.text for day in ("November 16", "Nov. 16"))
