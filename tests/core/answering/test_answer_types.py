"""Answer types: what kind of answer a question asks for, and whether a sentence holds one."""

from __future__ import annotations

import pytest

from bot.core.answering import answer_types


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
