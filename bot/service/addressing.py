"""Whether a chat message is a question for the bot, and the question without the people it names.

One rule for every chat front end, so Discord and Telegram answer the same messages. A message that
mentions the bot is a question. A reply to one of the bot's messages is a question only if it reads
as one: it ends with a question mark, or opens with an English question word ("when", "did", "how
many"…), or holds a Hindi one ("कब", "कहाँ"…: Hindi puts them mid-sentence, "यह कब लॉन्च हुआ").
So "thanks, that helped!" is not answered, and not counted as an unanswered question.

Mentions are not part of what is asked: "@bob @carol where was it launched from?" is asked as "where
was it launched from?". Every @name goes, Discord's ``<@id>`` / ``<@&id>`` / ``<#id>`` and
@everyone/@here, and any span a platform marks as naming someone (Telegram's text mentions of
members without a username show only their name, so the front end passes where they are).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

logger = logging.getLogger(__name__)

# A mention: Discord's user, role and channel syntax, or @name (not the middle of an e-mail address).
_MENTION = re.compile(r"<@[!&]?\d+>|<#\d+>|(?<![\w@.])@\w+")
_QUESTION_END = re.compile(r"[?？؟]\W*$")  # "…dock?", "…dock? 🙂", "…dock?!"
_EDGE_PUNCTUATION = "\"'“”‘’«»()[]{}¿¡,.;:!।-—–…"

ENGLISH_OPENERS = frozenset(
    """what what's whats when when's where where's which who who's whom whose why why's how how's
    is isn't are aren't was wasn't were weren't am do don't does doesn't did didn't can can't could
    couldn't will won't would wouldn't should shouldn't shall has hasn't have haven't had hadn't
    may might must""".split()
)
HINDI_QUESTION_WORDS = frozenset(
    """क्या कब कहाँ कहां किधर कौन कौनसा कौनसी कौनसे क्यों क्यूँ क्यूं कैसे कैसा कैसी कितना कितनी कितने
    किस किसने किसका किसकी किसके किसे किसको किन किनका किनकी किनके किन्हें""".split()
)


def without_mentions(text: str, spans: Iterable[tuple[int, int]] = ()) -> str:
    """``text`` with every mention removed and its whitespace collapsed. ``spans``: (start, end)
    character ranges the platform marks as mentions, removed first (their text may not start with @)."""
    for start, end in sorted(spans, reverse=True):
        text = f"{text[:start]} {text[end:]}"
    return " ".join(_MENTION.sub(" ", text).split())


def reads_as_question(text: str) -> bool:
    """Ends with a question mark, opens with an English question word, or holds a Hindi one."""
    text = text.strip()
    if _QUESTION_END.search(text):
        return True
    words = [word.strip(_EDGE_PUNCTUATION).lower().replace("’", "'") for word in text.split()]
    words = [word for word in words if word]
    if not words:
        return False
    return words[0] in ENGLISH_OPENERS or any(word in HINDI_QUESTION_WORDS for word in words)


def is_question(text: str, *, mentions_bot: bool, replies_to_bot: bool) -> bool:
    """Whether a message in a group or channel is for the bot to answer. ``text``: the message
    without its mentions (``without_mentions``). A mention of the bot asks, whatever follows (an
    empty one gets a hint); a reply to the bot asks only if it reads as a question; anything else
    is the members talking among themselves."""
    if mentions_bot:
        return True
    return replies_to_bot and reads_as_question(text)
