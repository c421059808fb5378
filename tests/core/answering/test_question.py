"""Questions that read the same are asked the same: full-width letters, Zalgo text and decomposed
accents become the plain question, and Hindi (or any script's own marks) is left as written."""

from __future__ import annotations

import random
import unicodedata

import pytest
import yaml

from bot.core.answering.question import clean_question, plain_text
from bot.core.engine import Engine
from tests.helpers import REPO

PLAIN = "When did Progress MS-10 launch?"
FULL_WIDTH = "Ｗｈｅｎ ｄｉｄ Ｐｒｏｇｒｅｓｓ ＭＳ－１０ ｌａｕｎｃｈ？"


def zalgo(text: str, seed: int = 7) -> str:
    """Each letter under one to eight random marks of the generic combining block, as Zalgo makes them."""
    rng = random.Random(seed)
    return "".join(
        ch + "".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(1, 8))) if ch.isalpha() else ch
        for ch in text
    )


def hindi_questions() -> list[str]:
    items = yaml.safe_load((REPO / "tests" / "data" / "hindi_qa.yaml").read_text(encoding="utf-8"))["items"]
    return [item["question"] for item in items if any("\u0900" <= ch <= "\u097f" for ch in item["question"])]


@pytest.mark.parametrize(
    "asked", [FULL_WIDTH, zalgo(PLAIN), zalgo(PLAIN, seed=8), "W\u0334\u0321h\u0337en did Progress MS-10 launch?"]
)
def test_what_reads_as_the_plain_question_is_the_plain_question(asked):
    assert clean_question(asked, 500).text == PLAIN


def test_hindi_is_left_as_written():
    questions = hindi_questions()
    assert len(questions) >= 5
    for question in questions:
        assert clean_question(question, 500).text == " ".join(unicodedata.normalize("NFC", question).split())
    assert plain_text("ज़्यादा क़ुतुब कुं") == "ज़्यादा क़ुतुब कुं"  # nukta, virama, vowel signs, anusvara


def test_accents_stay_one_letter_and_only_piles_of_marks_go():
    assert plain_text("cafe\u0301 naïve Việt") == "café naïve Việt"  # decomposed é composed; precomposed kept
    assert plain_text("x\u0304") == "x\u0304"  # one mark NFKC cannot compose: kept
    assert plain_text("caf\u00e9 " + zalgo("launch")) == "cafe launch"  # a Zalgo question loses every accent
    assert plain_text("क" + "\u094d" * 20) == "क" + "\u094d" * 4  # a script's marks up to a syllable's need
    assert clean_question("\u0301\u0301 ﬁne", 500).text == "fine"  # marks on nothing, a ligature


def test_the_engine_answers_them_as_the_plain_question(launch_engine: Engine):
    plain = launch_engine.answer(PLAIN)
    assert plain.answered
    for asked in (FULL_WIDTH, zalgo(PLAIN)):
        answer = launch_engine.answer(asked)
        assert (answer.answered, answer.text, [s.doc_id for s in answer.sources]) == (
            plain.answered,
            plain.text,
            [s.doc_id for s in plain.sources],
        )
    hindi = hindi_questions()[0]
    assert launch_engine.answer(hindi).text == launch_engine.answer(unicodedata.normalize("NFC", hindi)).text
