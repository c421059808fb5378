"""Text helpers and reports every front end shares, and the direction of every import."""

from __future__ import annotations

import ast
import csv
import io
import re

import pytest

from bot.service.reports import gaps_csv, latency_text, percentile
from bot.service.storage import Gap
from bot.service.text import ELLIPSIS, cut, sentence, split, visible
from tests.helpers import REPO

CITED = "“The rocket rose at 6:14 a.m.” [1] “It docked two days later.” [2] “Gerst filmed it.” [12]"


def test_cuts_end_a_sentence_and_never_split_a_citation():
    for limit in range(8, len(CITED) + 1):
        shown = cut(CITED, limit)
        assert len(shown) <= limit
        if shown != CITED:
            assert shown.endswith(ELLIPSIS) and not re.search(r"\[\d*$", shown[: -len(ELLIPSIS)])
    assert cut(CITED, 60) == "“The rocket rose at 6:14 a.m.” [1]" + ELLIPSIS


def test_split_keeps_every_word_and_ends_pieces_at_sentence_ends():
    text = " ".join(f"Sentence number {n} says something about the launch [{n % 3 + 1}]." for n in range(200))
    pieces = split(text, 500)
    assert all(len(piece) <= 500 for piece in pieces) and len(pieces) > 10
    assert " ".join(pieces).split() == text.split()
    assert all(piece.endswith(".") for piece in pieces)
    assert split("short", 500) == ["short"]
    assert all(len(p) <= 7 for p in split("x" * 50, 7))  # no sentence or word end: hard cuts


def test_refusals_are_full_sentences_and_invisible_characters_go():
    assert sentence("please ask a question: the message was empty") == "Please ask a question: the message was empty."
    assert sentence("Done!") == "Done!"
    assert visible("a\u200bb\u202ec\u2066d\u061ce") == "abcde"


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [([5.0], 0.99, 5.0), ([1, 2, 3, 4], 0.5, 2), (list(range(1, 11)), 0.9, 9), (list(range(1, 101)), 0.99, 99)],
)
def test_one_nearest_rank_percentile(values, share, expected):
    assert percentile(values, share) == expected


def test_latency_text_and_the_csv_export():
    assert latency_text([]) == "no questions yet"
    assert latency_text([10.0, 20.0]) == "p50 10 ms · p90 20 ms · p99 20 ms (n=2)"
    exported = gaps_csv([Gap(1, 0.0, "=cmd|' /C calc'!A0", False, 0.1, 0, 0)]).decode("utf-8-sig")
    [header, row] = list(csv.reader(io.StringIO(exported)))
    assert header[2] == "question" and row[2].startswith("'=") and row[3] == "declined"


LAYERS = {"core": 0, "service": 1, "cli": 2, "discord": 2, "telegram": 2}


def test_imports_go_front_ends_to_service_to_core_never_back():
    """core imports no service or front end (and no chat platform); service imports no front end;
    front ends do not import each other (only the ``launchbot`` command in bot/cli starts them)."""
    problems = []
    for path in sorted((REPO / "bot").rglob("*.py")):
        parts = path.relative_to(REPO / "bot").parts
        layer = parts[0] if len(parts) > 1 else None
        if layer not in LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")
                if top[0] in {"discord", "telegram"} and layer in {"core", "service"}:
                    problems.append(f"{path.name} ({layer}) imports the chat platform {name}")
                inward = top[0] == "bot" and len(top) > 1 and top[1] in LAYERS and top[1] != layer
                if inward and LAYERS[top[1]] >= LAYERS[layer] and parts[0] != "cli":
                    problems.append(f"{path.name} ({layer}) imports {name}")
    assert not problems, problems
