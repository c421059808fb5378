"""Questions are untrusted input: normalise them, or refuse them with a reason a person can act on."""

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


@dataclass(frozen=True)
class CleanQuestion:
    """``problem`` says why a question is refused, for people; ``code`` the same for programs
    (``ask --json``'s ``problem``): ``not_text``, ``empty``, ``too_long`` or ``no_words``."""

    text: str | None
    problem: str | None = None
    code: str | None = None


def clean_question(raw: object, max_chars: int) -> CleanQuestion:
    """NFC-normalised text without control or invisible characters, or the reason it is refused."""
    if not isinstance(raw, str):
        return CleanQuestion(None, "a question must be text", "not_text")
    text = unicodedata.normalize("NFC", raw).translate(INVISIBLE)
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
