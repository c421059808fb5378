"""Lexical analysis shared by BM25 retrieval and sentence scoring.

Tokens are runs of letters, combining marks and digits in any script (``\\w`` alone would break
Devanagari words at their vowel signs). English tokens are Snowball-stemmed; stop words of English
and Hindi are dropped. Identifiers survive as one term: "MS-10" is ``ms10`` (one term, so it is not
counted three times), while hyphenated words ("time-lapse") yield their parts, as in "time lapse".
Month abbreviations ("Nov.") fold to the full month name so "Nov. 18" meets "November 18".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex
import Stemmer

VERSION = 3  # bump when tokenize() changes: indexes built with another version are stale
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:[-'’][\p{L}\p{M}\p{N}]+)*")
_LATIN = regex.compile(r"^[a-z0-9]+$")
_JOINERS = regex.compile(r"[-'’]")

MONTHS = {
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}
_ENGLISH_STOPWORDS = (
    # English function words. Question words are stop words too: the answer scorer reads the
    # question's type ("when", "how many") from the raw text, not from these terms.
    "a an the and or but if of at by for with about against between into through during before after "
    "above below to from up down in out on off over under again further then once here there all any "
    "both each few more most other some such no nor not only own same so than too very s t can will "
    "just don should now is are was were be been being have has had having do does did doing i me my "
    "we our you your he him his she her it its they them their what which who whom this that these "
    "those am would could shall may might must when where why how much many".split()
)
_HINDI_STOPWORDS = (
    # Hindi: postpositions, auxiliaries, particles and question words (as in English, above).
    "का के की को में से पर ने है हैं था थे थी हो होता होती और या भी तो ही इस उस ये वो यह वह एक "
    "कि कर किया गया गई जा रहा रहे रही लिए साथ तक क्या कैसा कैसे कैसी कौन कब कहाँ कहां क्यों कितना कितने "
    "कितनी किसने किस किसके किसको".split()
)
STOPWORDS = frozenset(_ENGLISH_STOPWORDS + _HINDI_STOPWORDS)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Case-folded word tokens, hyphenated identifiers kept whole (``ms-10``)."""
    return [match.group().casefold() for match in _TOKEN.finditer(text)]


def tokenize(text: str) -> list[str]:
    """Index terms for BM25 and overlap scoring."""
    terms: list[str] = []
    stem = _stemmer().stemWord
    for word in words(text):
        parts = _JOINERS.split(word)
        if len(parts) > 1 and any(ch.isdigit() for ch in word):
            parts = ["".join(parts)]
        for part in parts:
            part = MONTHS.get(part, part)
            if not part or part in STOPWORDS:
                continue
            terms.append(stem(part) if _LATIN.match(part) else part)
    return terms


def unknown_words(text: str, lexicon: Lexicon) -> str:
    """``text`` with only its words that ``lexicon`` does not know, in order ("How old is Alexander
    Gerst?" over the launch articles -> "How old is"; stop words are kept: they know no corpus)."""
    kept = []
    for word in _TOKEN.finditer(text):
        terms = tokenize(word.group())
        if not terms or not all(lexicon.known(term) for term in terms):
            kept.append(word.group())
    return " ".join(kept)


def tokenize_many(texts: Iterable[str]) -> list[list[str]]:
    return [tokenize(text) for text in texts]


def latin_share(text: str) -> float:
    """Fraction of letters that are Latin: the default embedding model only understands English."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters) / len(letters)


class Lexicon:
    """Document frequencies over chunks, to weigh how much of a question a sentence covers."""

    def __init__(
        self, document_frequency: dict[str, int], documents: int, extra_idf: dict[str, float] | None = None
    ) -> None:
        self.df = document_frequency
        self.documents = max(documents, 1)
        self.extra_idf = extra_idf or {}

    def with_idf(self, extra_idf: dict[str, float]) -> Lexicon:
        """The same lexicon, with fixed idfs for terms the corpus does not spell (alias groups)."""
        return Lexicon(self.df, self.documents, {**self.extra_idf, **extra_idf})

    @classmethod
    def build(cls, tokenized: Sequence[Sequence[str]]) -> Lexicon:
        df: Counter[str] = Counter()
        for terms in tokenized:
            df.update(set(terms))
        return cls(dict(df), len(tokenized))

    def without(self, tokenized: Sequence[Sequence[str]]) -> Lexicon:
        """The lexicon as if these chunks (each a list of its terms) had never been counted."""
        df = Counter(self.df)
        for terms in tokenized:
            df.subtract(set(terms))
        return Lexicon({term: n for term, n in df.items() if n > 0}, self.documents - len(tokenized))

    def idf(self, term: str) -> float:
        """BM25-style idf; a term the corpus has never seen weighs the most."""
        if term in self.extra_idf:
            return self.extra_idf[term]
        df = self.df.get(term, 0)
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))

    def coverage(self, query_terms: Sequence[str], text_terms: Iterable[str]) -> float:
        """Share of the query's idf mass that ``text_terms`` contain, in [0, 1]. Terms are summed in
        the query's order (not a set's), so a score is the same in every process."""
        unique = dict.fromkeys(query_terms)
        total = sum(self.idf(term) for term in unique)
        if total == 0:
            return 0.0
        present = set(text_terms)
        return sum(self.idf(term) for term in unique if term in present) / total

    def specificity(self, query_terms: Sequence[str]) -> float:
        """Mean idf of the query's terms relative to the rarest possible term, in [0, 1]: near 0 when
        every term is everywhere (so matching them says little about a sentence)."""
        unique = dict.fromkeys(query_terms)
        if not unique:
            return 0.0
        return sum(self.idf(term) for term in unique) / len(unique) / self.rarest

    @property
    def rarest(self) -> float:
        """The idf of a term the corpus has never seen: the most any term can weigh."""
        return math.log(1 + (self.documents + 0.5) / 0.5)

    def known(self, term: str) -> bool:
        return term in self.extra_idf or self.df.get(term, 0) > 0
