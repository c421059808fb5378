"""Composing the answer: nothing but quotes and their citations, the sentence holding the answer
first, a sentence opening with a pronoun together with the one naming whom it means, each passage's
quotes in document order, and an answer within its budget without a citation lost."""

from __future__ import annotations

import re

import pytest

from bot.core.answering.compose import Answer
from bot.core.engine import Engine
from bot.evaluation import first_quote, load_yaml_set
from tests.helpers import DEV_SET, REPO, make_settings, outside_quotes


def test_the_quote_checker_catches_unquoted_words():
    assert outside_quotes("“Gerst set up the camera.” [1] “It worked.” [2]") == ""
    assert outside_quotes("Yes: “Gerst set up the camera.” [1]") == "Yes:"
    assert outside_quotes("“Gerst set up the camera.” [1], probably") == ", probably"


QUESTIONS = [item.question for item in load_yaml_set(DEV_SET)] + [
    item.question for item in load_yaml_set(REPO / "tests" / "data" / "launch_calibration.yaml")
]


@pytest.fixture(scope="module")
def launch_answers(launch_engine: Engine) -> dict[str, Answer]:
    """Each launch question answered once: the tests below read different properties of the same answers."""
    return {question: launch_engine.answer(question) for question in QUESTIONS}


def test_answers_hold_nothing_but_quotes_and_citations(launch_answers: dict[str, Answer]):
    answered = 0
    for question, answer in launch_answers.items():
        if answer.answered:
            answered += 1
            assert outside_quotes(answer.text) == "", (question, answer.text)
            assert answer.text.startswith("“")
    assert answered >= 10


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("Who filmed the launch?", "Gerst"),
        ("Where was the rocket launched from?", "Baikonur"),
        ("When does Gerst's crew go back to Earth?", "December 20"),
    ],
)
def test_the_first_quote_holds_the_answer(launch_engine: Engine, question, fact):
    answer = launch_engine.answer(question)
    assert answer.answered
    assert fact.casefold() in first_quote(answer.text).casefold(), answer.text


def test_a_sentence_opening_with_a_pronoun_comes_with_the_sentence_naming_it(launch_engine: Engine):
    answer = launch_engine.answer("Who set a camera that took pictures at regular intervals?")
    assert answer.answered
    lead = first_quote(answer.text)
    assert lead.startswith("European Space Astronaut Alexander Gerst") and "He set a camera" in lead
    source = answer.sources[0]
    assert launch_engine.index.documents[source.doc_id].text[source.start : source.end] == source.quote


def test_quotes_of_one_passage_keep_document_order(launch_engine: Engine, launch_answers: dict[str, Answer]):
    for answer in launch_answers.values():
        quotes = re.findall(r"“([^“”]*)” \[(\d+)\]", answer.text)
        for number in {n for _, n in quotes}:
            source = answer.sources[int(number) - 1]
            text = launch_engine.index.documents[source.doc_id].text
            positions = [text.find(q.removesuffix("…")) for q, n in quotes[1:] if n == number]
            assert positions == sorted(positions), answer.text


def test_answers_fill_the_budget_exactly_without_dropping_a_citation(tmp_path, embedder):
    from bot.core.engine import Engine

    text = (
        "The Progress cargo ship carried fuel, food and water to the station crew in orbit. "
        "The cargo ship also carried spare parts and science kits for the station crew."
    )
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "cargo.md").write_text(f"---\ntitle: Cargo\n---\n{text}\n")
    Engine(make_settings(tmp_path), embedder).open()
    quoted_both = False
    for budget in range(80, 260):
        engine = Engine(make_settings(tmp_path, answer_chars=budget, follow_ratio=0.0, answer_threshold=-1.0), embedder)
        engine.load()
        answer = engine.answer("What did the Progress cargo ship carry to the station crew?")
        assert len(answer.text) <= budget
        for source in answer.sources:
            assert f"[{source.number}]" in answer.text
            assert all(quote.removesuffix("…") in source.quote for quote in _quoted(answer.text))
        if answer.text.endswith("…” [1]"):  # cut: only when even the best sentence alone does not fit
            best = next(part for part in text.replace(". ", ".\n").split("\n") if part.startswith(answer.text[1:20]))
            assert len(best) + len("“” [1]") > budget
        # Adjacent sentences of one passage are quoted together, in document order.
        quoted_both = quoted_both or all(part in answer.text for part in text.replace(". ", ".\n").split("\n"))
    assert quoted_both, "some budget should have room for both sentences"


def _quoted(text: str) -> list[str]:
    return [fragment.split("”")[0] for fragment in text.split("“")[1:]]
