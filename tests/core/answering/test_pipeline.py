"""Answers over the launch articles: right facts, verbatim quotes, honest declines, safe with any input."""

from __future__ import annotations

import pytest

from bot.core.engine import Engine
from bot.evaluation import judge, load_yaml_set
from tests.helpers import DEV_SET

DEV_ITEMS = load_yaml_set(DEV_SET)


def assert_quotes_are_verbatim(engine: Engine, answer) -> None:
    for source in answer.sources:
        if source.kind != "text":  # a front-matter detail (the outlet's name), not a passage
            continue
        document = engine.index.documents[source.doc_id]
        assert document.text[source.start : source.end] == source.quote
        assert source.quote in source.context


@pytest.mark.parametrize("item", DEV_ITEMS, ids=[item.id for item in DEV_ITEMS])
def test_dev_set(launch_engine: Engine, item):
    answer = launch_engine.answer(item.question)
    if item.answerable:
        assert answer.answered, f"declined at confidence {answer.confidence:.3f}"
        assert judge(item, answer), answer.text
        assert_quotes_are_verbatim(launch_engine, answer)
    else:
        assert not answer.answered and answer.sources == []
        assert "don't" in answer.text


def test_answer_is_chat_sized_and_only_quotes(launch_engine: Engine):
    for item in DEV_ITEMS:
        answer = launch_engine.answer(item.question)
        assert len(answer.text) <= 500
        if answer.answered:
            quoted = [s.quote for s in answer.sources]
            # Every “…” span in the direct answer is a (possibly cut) prefix of a source quote.
            for fragment in answer.text.split("“")[1:]:
                body = fragment.split("”")[0].removesuffix("…")
                assert any(body in quote for quote in quoted), body


def test_citations_number_the_sources_in_order(launch_engine: Engine):
    answer = launch_engine.answer("When does Gerst's crew go back to Earth?")
    assert [s.number for s in answer.sources] == list(range(1, len(answer.sources) + 1))
    for source in answer.sources:
        assert f"[{source.number}]" in answer.text


def test_stricter_threshold_declines_more(settings, embedder):
    lenient = Engine(settings.model_copy(update={"answer_threshold": 0.0}), embedder)
    lenient.open()
    strict = Engine(settings.model_copy(update={"answer_threshold": 0.9999}), embedder)
    strict.load()
    question = "Which astronaut recorded the launch video?"
    assert lenient.answer(question).answered
    assert not strict.answer(question).answered


HOSTILE = {
    "empty": "",
    "whitespace": " \t\n ",
    "long": "rocket " * 2000,
    "control": "When\x00 did\x07 Progress\x1b[31m dock?",
    "zero_width": "When\u200b did\u200d Progress\ufeff 71 dock?",
    "rtl": "\u202eWhen did Progress 71 dock?\u202c",
    "mentions": "@everyone <@&123> <@456> when did Progress 71 dock?",
    "markdown": "**[click](https://evil.example)** `code` ||spoiler|| when did it launch?",
    "emoji_only": "🚀🚀🚀",
    "punctuation": "???!!!",
    "not_text": None,
    "surrogates": "When did \ud800 it launch?",
    "other_script": "火箭是什么时候发射的？",
    "sql": "'; DROP TABLE questions; --",
}


@pytest.mark.parametrize("question", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_questions_get_a_clear_reply(launch_engine: Engine, question):
    answer = launch_engine.answer(question)
    assert isinstance(answer.text, str) and answer.text
    assert len(answer.text) <= 500
    if answer.problem:
        assert not answer.answered and answer.sources == []
    assert_quotes_are_verbatim(launch_engine, answer)


def test_long_questions_are_refused_with_the_limit(launch_engine: Engine):
    answer = launch_engine.answer("x" * 10_000)
    assert not answer.answered
    assert answer.problem == "too_long"
    assert "10,000" in answer.text and "500" in answer.text


def test_invisible_characters_do_not_change_the_answer(launch_engine: Engine):
    plain = launch_engine.answer("When did Progress 71 dock?")
    disguised = launch_engine.answer(HOSTILE["zero_width"])
    assert disguised.text == plain.text


def test_unrelated_questions_get_no_closest_passage(launch_engine: Engine):
    answer = launch_engine.answer("How do I bake sourdough bread?")
    assert not answer.answered and answer.closest is None
