"""Spelling correction of questions against the corpus vocabulary ("progess 71 launchd").

A question word is corrected only when it is not a capitalised name mid-question, and neither the
articles nor a common-English dictionary know it (the dictionary is SymSpell's, shipped with
``symspellpy``); and only to a word the articles use (or a question word: "whn" is "when"), within
one edit for short words and two for longer ones. A real word the articles happen not to use
("fuel", "weather") is left alone: it is a question the articles may not answer, and correcting it
would invent one they do. The correction feeds retrieval and term overlap alike; the answer does
not mention it.
"""

from __future__ import annotations

import importlib.resources
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import regex
from symspellpy import SymSpell, Verbosity

from bot.core.ingest.lexical import STOPWORDS, words

logger = logging.getLogger(__name__)

COMMON_WORD = 100_000  # dictionary count above which a word is a real English word, not a typo
# The first word may be a misspelt question word even when it is a rare real word ("wen"): below
# this count it yields to a question word one edit away.
COMMON_FIRST_WORD = 2_000_000
MIN_LENGTH = 3
_WORD = regex.compile(r"[A-Za-z]+")
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:[-'’][\p{L}\p{M}\p{N}]+)*")
# Question words are corrected too ("whn", "wen"): they decide what kind of answer is wanted.
QUESTION_WORDS = "what when where which who whom whose why how many much does did was were is are".split()


@lru_cache(maxsize=1)
def english() -> dict[str, int]:
    """SymSpell's English frequency dictionary (82,765 words with corpus counts)."""
    path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            word, _, count = line.partition(" ")
            counts[word] = int(count)
    return counts


@dataclass(frozen=True)
class Correction:
    text: str
    changes: tuple[tuple[str, str], ...] = ()


class Speller:
    """Corrects question words to the vocabulary of one corpus. The vocabulary is read at the first
    correction, not when an index is loaded: a big corpus costs its first question, not every reload."""

    def __init__(self, texts: Callable[[], Iterable[str]]) -> None:
        self._texts = texts
        self._lock = threading.Lock()
        self._ready = False
        self.known: Counter[str] = Counter()
        self.symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Speller:
        kept = list(texts)
        return cls(lambda: kept)

    def _load(self) -> None:
        with self._lock:
            if self._ready:
                return
            for text in self._texts():
                self.known.update(words(text))
            for word, count in self.known.items():
                if _WORD.fullmatch(word) and len(word) >= MIN_LENGTH:
                    self.symspell.create_dictionary_entry(word, count)
            for word in QUESTION_WORDS:
                self.symspell.create_dictionary_entry(word, 1_000_000)
            self._ready = True

    def correct_word(self, word: str, first: bool = False) -> str | None:
        """The corrected (case-folded) word, or None when it stays as it is. Only the question's
        first word may become a question word ("vid" is not "did" mid-question)."""
        if not self._ready:
            self._load()
        folded = word.casefold()
        if len(folded) < MIN_LENGTH or not _WORD.fullmatch(folded) or folded in self.known or folded in STOPWORDS:
            return None
        count = english().get(folded, 0)
        if count >= COMMON_FIRST_WORD or (count >= COMMON_WORD and not first):
            return None
        if count >= COMMON_WORD:  # a rare real word opening the question: only a question word replaces it
            near = self.symspell.lookup(folded, Verbosity.CLOSEST, max_edit_distance=1)
            return next((s.term for s in near if s.term in QUESTION_WORDS and s.distance > 0), None)
        distance = 1 if len(folded) <= 5 else 2
        suggestions = [
            s
            for s in self.symspell.lookup(folded, Verbosity.CLOSEST, max_edit_distance=distance)
            if first or s.term in self.known
        ]
        if not suggestions or suggestions[0].distance == 0:
            return None
        return suggestions[0].term

    def correct(self, text: str) -> Correction:
        """``text`` with unknown words replaced by their nearest known word."""
        changes: list[tuple[str, str]] = []
        parts: list[str] = []
        last = 0
        for number, match in enumerate(_TOKEN.finditer(text)):
            if number > 0 and match.group()[:1].isupper():
                continue  # a capitalised word mid-question is a name ("SpaceX"), not a misspelt word
            fixed = self.correct_word(match.group(), first=number == 0)
            if fixed is not None:
                parts.append(text[last : match.start()] + fixed)
                last = match.end()
                changes.append((match.group(), fixed))
        if not changes:
            return Correction(text)
        parts.append(text[last:])
        corrected = "".join(parts)
        logger.debug("corrected %s", ", ".join(f"{a!r}->{b!r}" for a, b in changes))
        return Correction(corrected, tuple(changes))
