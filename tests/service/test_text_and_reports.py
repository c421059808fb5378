"""Text helpers and reports every front end shares."""

from __future__ import annotations

import csv
import io
import re

import pytest

from bot.service.reports import gaps_csv, latency_text, percentile
from bot.service.storage import Gap
from bot.service.text import ELLIPSIS, cut, sentence, split, visible

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
