"""Questions are untrusted input: normalise them, or refuse them with a reason a person can act on.

Text that reads the same is asked the same: full-width letters ("Ｗｈｅｎ ｄｉｄ…"), ligatures and
other compatibility forms become the plain ones (NFKC), and combining marks piled on a letter
(Zalgo text) are taken off. A letter with its accent is one precomposed character after NFKC ("é"),
so more than one generic combining mark left on a letter is decoration: then every generic mark of
the question goes, and "W̴̡h̷e̸n̵" reads "When". A script's own marks (Devanagari's vowel signs,
virama, nukta, anusvara) are its spelling and stay, up to what a syllable needs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Zero-width characters and bidirectional controls change how text looks, not what it says. The one
# table: questions are cleaned with it here, and every front end's shown text (bot.service.text) too.
INVISIBLE = dict.fromkeys(
    [
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        0x200E,
        0x200F,
        0x061C,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
)


# Combining marks of no script of their own (Unicode's generic combining blocks): the accents Latin,
# Greek and Cyrillic letters take, and what Zalgo text piles up.
GENERIC_MARKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
SCRIPT_MARKS = 4  # a script's own marks on one letter: Devanagari's nukta, vowel sign, virama, anusvara


def _generic(ch: str) -> bool:
    return any(low <= ord(ch) <= high for low, high in GENERIC_MARKS)


def _stacked(text: str) -> bool:
    """Whether some letter carries more than one generic combining mark (after NFKC composed what it could)."""
    run = 0
    for ch in text:
        if not unicodedata.category(ch).startswith("M"):
            run = 0
        elif _generic(ch):
            run += 1
            if run > 1:
                return True
    return False


def _marks_kept(text: str, generic: int) -> str:
    """At most ``generic`` generic marks and ``SCRIPT_MARKS`` script marks per letter; none without one."""
    kept, base, generic_run, script_run = [], False, 0, 0
    for ch in text:
        if not unicodedata.category(ch).startswith("M"):
            kept.append(ch)
            base, generic_run, script_run = not ch.isspace(), 0, 0
        elif _generic(ch):
            generic_run += 1
            if base and generic_run <= generic:
                kept.append(ch)
        else:
            script_run += 1
            if base and script_run <= SCRIPT_MARKS:
                kept.append(ch)
    return "".join(kept)


def plain_text(text: str) -> str:
    """NFKC, with combining marks limited to what a script needs (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    if _stacked(text):
        return unicodedata.normalize("NFC", _marks_kept(unicodedata.normalize("NFKD", text), generic=0))
    return unicodedata.normalize("NFC", _marks_kept(text, generic=1))


@dataclass(frozen=True)
class CleanQuestion:
    """``problem`` says why a question is refused, for people; ``code`` the same for programs
    (``ask --json``'s ``problem``): ``not_text``, ``empty``, ``too_long`` or ``no_words``."""

    text: str | None
    problem: str | None = None
    code: str | None = None


def clean_question(raw: object, max_chars: int) -> CleanQuestion:
    """Plain text (``plain_text``) without control or invisible characters, or the reason it is refused."""
    if not isinstance(raw, str):
        return CleanQuestion(None, "a question must be text", "not_text")
    text = plain_text(raw.translate(INVISIBLE))
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs", "Co") else ch for ch in text)
    text = " ".join(text.split())
    if not text:
        return CleanQuestion(None, "please ask a question: the message was empty", "empty")
    if len(text) > max_chars:
        return CleanQuestion(
            None,
            f"that question is {len(text):,} characters long; the limit is {max_chars:,}. Please shorten it.",
            "too_long",
        )
    if not any(ch.isalnum() for ch in text):
        return CleanQuestion(None, "please ask a question in words: that message has no letters or digits", "no_words")
    return CleanQuestion(text)
