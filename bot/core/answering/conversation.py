"""Follow-up questions: what the earlier turns of a conversation lend to a question that leans on them.

People ask in chains: "What is Progress 71?" then "When did it dock?". The second question says
"it" and means Progress 71; on its own it is about nothing. A question *leans* on the conversation
when it refers back ("it", "he", "that", "there", and their Hindi forms "यह", "उसने", "वहाँ"…),
asks the last question again about something else ("what about the crew?"), or has no subject of
its own ("Why?", "And the crew?", "How many people?"); "And what is the capital of Australia?"
names its own. Such a question is retrieved and scored with a ``Context``: the earlier questions
that were answered, the last at half the weight of the follow-up's own words and each one before it
at half that again. Their key terms (not the words that only ask: "when", "कब हुआ") rank passages
(a second BM25 list, fused below the question's own), pull the question's vector towards them, and
count in term overlap at their weight. A question that stands on its own gets no context at all,
so it is answered exactly as if asked alone: "What is the capital of Australia?" after a launch
question is declined as it would be alone, and a follow-up none of whose own words the articles
use is answered only if it asks for a kind of answer the quote holds (``decision.answerable``).

The earlier *answers* lend nothing: their words would lead the follow-up straight back to the
sentence already quoted. A declined turn lends nothing either, so "When is the next launch from
there?" after an off-topic question leans past it on the last answered one.

Plain Python with no chat-platform import: front ends keep the turns (``Turn``) and pass them in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from bot.core.ingest.lexical import tokenize, words

logger = logging.getLogger(__name__)

# How much the words of the turn before count against the follow-up's own (1.0), and how much
# each turn further back fades; only the last ``LOOKBACK`` turns lend anything.
CONTEXT_WEIGHT = 0.5
FADE = 0.5
LOOKBACK = 3

# Words that point back at something said before. English pronouns and demonstratives; Hindi
# pronouns in their direct and oblique forms, with postpositions fused ("इसका", "उसने").
_REFERENCES = frozenset(
    "it its itself he him his himself she her hers herself they them their theirs themselves "
    "this that these those there then "
    "यह वह ये वो यहाँ यहां वहाँ वहां तब इस उस इन उन इसे उसे इन्हें उन्हें इसका उसका इसकी उसकी इसके उसके "
    "इनका उनका इनकी उनकी इनके उनके इसने उसने इन्होंने उन्होंने इसको उसको इनको उनको इसमें उसमें "
    "इसपर उसपर इससे उससे".split()
)
# Openings that ask the last question again about something else: "what about the crew?" has no
# question of its own. (A plain "and …?" leans only when it names nothing: see ``has_subject``.)
_ELLIPTIC = regex.compile(
    r"^\s*(?:and\s+|so\s+)?(?:what|how)\s+about\b|^\s*(?:और|तो)\s+.*\sका\s+क्या\b", regex.IGNORECASE
)
# Words that ask, but name nothing: a question made only of these has no subject of its own.
_ASKING = frozenset(
    "what which who whom whose when where why how many much long far big old often else exactly "
    "happen happened happens did do does done was were is are be been get got go went come came "
    "क्या कब कहाँ कहां क्यों कैसे कौन किसने किसको किसका किसकी किसके कितना कितने कितनी हुआ हुई".split()
)

# A capitalised word or a word with a digit: a name or identifier the question is about.
_NAMED = regex.compile(r"\b(?:\p{Lu}[\p{L}\p{M}'’-]*|[\p{L}-]*\d[\p{L}\p{N}-]*)")


@dataclass(frozen=True)
class Turn:
    """One earlier turn: the question as asked, and the sentences quoted to answer it (none when
    it was declined)."""

    question: str
    quotes: tuple[str, ...] = ()  # the quoted sentences, in the order the answer gave them

    @property
    def answered(self) -> bool:
        return bool(self.quotes)


@dataclass(frozen=True)
class Context:
    """What a follow-up leans on: (text, weight) of earlier turns, most recent first. The weights
    are relative to the follow-up's own words, which weigh 1."""

    parts: tuple[tuple[str, float], ...]

    def term_weights(self) -> dict[str, float]:
        """Each context term with the weight of the most recent turn that holds it."""
        weights: dict[str, float] = {}
        for text, weight in self.parts:
            for term in key_terms(text):
                weights[term] = max(weights.get(term, 0.0), weight)
        return weights


def key_terms(text: str) -> list[str]:
    """The terms of a question without its asking and pointing words ("when", "हुआ", "it", "इसे"):
    what it is about."""
    return tokenize(" ".join(word for word in words(text) if word not in _ASKING and word not in _REFERENCES))


def leans_on_context(question: str) -> bool:
    """True when the question refers back, continues the last one, or names nothing of its own."""
    tokens = words(question)
    if any(token in _REFERENCES for token in tokens):
        return True
    if _ELLIPTIC.match(question):
        return True
    # Any other opening ("and …?") continues the last question only when nothing else is named:
    # "and the crew?" leans on it, "and what is the capital of Australia?" is a question of its own.
    return not has_subject(question)


def has_subject(question: str) -> bool:
    """Whether the question names what it is about: a name or identifier ("Gerst", "MS-10"), or
    at least two words of substance. "How many people?" and "At what time?" do not: they ask about
    whatever was being talked about."""
    named = _NAMED.search(question[1:])  # the first word is capitalised anyway
    content = [token for token in words(question) if token not in _ASKING and tokenize(token)]
    return bool(named) or len(content) >= 2


def context_for(question: str, history: Sequence[Turn] | None) -> Context | None:
    """The context a follow-up is retrieved with, or None when the question stands on its own (or
    there is nothing earlier to lean on)."""
    if not history or not leans_on_context(question):
        return None
    # A declined turn lends nothing: it was about something the articles do not hold, and a
    # follow-up after it ("from there?") leans past it on the last answered one.
    answered = [turn for turn in history if turn.answered][-LOOKBACK:]
    if not answered:
        return None
    parts = []
    weight = CONTEXT_WEIGHT
    for turn in reversed(answered):
        parts.append((turn.question, weight))
        weight *= FADE
    logger.debug("follow-up %r leans on %d earlier turns", question, len(parts))
    return Context(tuple(parts))


_QUOTED = regex.compile(r"“(.*?)…?”\s*\[\d+\]", regex.DOTALL)


def quoted_sentences(answer_text: str) -> tuple[str, ...]:
    """The sentences an answer quotes (``“sentence” [1] “sentence” [2]``), in order; a sentence cut
    to fit the answer's budget is its beginning."""
    return tuple(match.group(1) for match in _QUOTED.finditer(answer_text))


def turn_of(answer: object) -> Turn:
    """The turn an ``Answer`` (bot/core/answering/compose.py) leaves in its conversation."""
    quotes = quoted_sentences(answer.text) if answer.answered else ()
    return Turn(answer.question, quotes)
