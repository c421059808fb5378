"""Aliases: every name of one thing (knowledge/aliases.yaml) widens retrieval and counts as one term."""

from __future__ import annotations

import logging

from bot.core.answering.aliases import Aliases, load_aliases, parse_aliases
from bot.core.engine import Engine
from bot.core.ingest.lexical import tokenize
from bot.evaluation import first_quote
from tests.helpers import KNOWLEDGE


def test_aliases_fold_every_name_of_a_thing_into_one_term():
    aliases = parse_aliases("groups:\n  - [Progress MS-10, Progress 71, 71P]\n  - [ISS, International Space Station]\n")
    assert aliases.canonical(tokenize("71P docked")) == aliases.canonical(tokenize("Progress MS-10 docked"))
    assert aliases.canonical(tokenize("the International Space Station")) == aliases.canonical(tokenize("ISS"))
    assert set(tokenize("Progress 71 ISS")) <= set(aliases.expand(tokenize("71P International Space Station")))


def test_the_shipped_aliases_name_the_launch_articles_things():
    aliases = load_aliases(KNOWLEDGE)
    for a, b in [
        ("71P", "Progress MS-10"),
        ("Progress 71", "71P"),
        ("ISS", "International Space Station"),
        ("ESA", "European Space Agency"),
    ]:
        assert aliases.canonical(tokenize(a)) == aliases.canonical(tokenize(b))


def test_a_broken_aliases_file_is_reported_and_ignored(tmp_path, caplog):
    (tmp_path / "aliases.yaml").write_text("groups: [oops\n")
    with caplog.at_level(logging.WARNING):
        assert not load_aliases(tmp_path)
    assert "aliases.yaml" in caplog.text


def test_an_alias_finds_the_answer(launch_engine: Engine):
    answer = launch_engine.answer("How much did 71P deliver to the ISS?")
    assert answer.answered
    assert any(weight in first_quote(answer.text) for weight in ("2,564", "5,652"))


def test_aliases_file_is_not_loaded_as_a_document(launch_engine: Engine):
    assert (KNOWLEDGE / "aliases.yaml").is_file()
    assert all(not doc_id.startswith("aliases") for doc_id in launch_engine.index.documents)


def test_aliases_are_empty_without_a_file(tmp_path):
    assert load_aliases(tmp_path) == Aliases()
