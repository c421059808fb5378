"""Answers as Discord embeds: inert text, within Discord's limits, cut where a reader expects a cut.

Everything shown comes from untrusted text (questions from members, passages from articles), so it
goes through ``inert`` first: mentions cannot ping, markdown cannot restyle, invisible and
bidirectional controls cannot disguise it. Text longer than a limit is cut at the end of a sentence
and never inside a ``[n]`` citation, so every citation left standing still points at its source.
"""

from __future__ import annotations

import logging
import re

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.cli.render import source_label
from bot.core.answer import Answer, Source
from bot.service.storage import StoredSource

logger = logging.getLogger(__name__)

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_LIMIT = 1024
EMBED_TOTAL_LIMIT = 6000
FOOTER_LIMIT = 2048
MAX_FIELDS = 25
MAX_EMBEDS = 10

ANSWERED_COLOUR = discord.Colour.blurple()
DECLINED_COLOUR = discord.Colour.light_grey()
ELLIPSIS = " …"

# Zero-width characters and bidirectional controls change how text looks, not what it says.
_INVISIBLE = dict.fromkeys(
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
# A sentence ends at . ! ? । or … (then closing quotes), and owns the citations that follow it.
_SENTENCE_END = re.compile(r"[.!?।…][\"'”’)\]]*(?:\s*\[\d+\])*(?=\s|$)|\[\d+\](?=\s|$)")
_OPEN_CITATION = re.compile(r"\[\d*$")


def inert(text: str) -> str:
    """Shown exactly as written: no pings, no markdown, no invisible or direction-changing characters."""
    return escape_markdown(escape_mentions(text.translate(_INVISIBLE)))


def cut(text: str, limit: int) -> str:
    """``text`` if it fits, else its longest prefix ending a sentence (or, failing that, a word
    outside any citation), followed by an ellipsis."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    ends = [match.end() for match in _SENTENCE_END.finditer(text, 0, room + 1) if match.end() <= room]
    if ends and ends[-1] > room // 3:
        return text[: ends[-1]].rstrip() + ELLIPSIS
    prefix = text[:room]
    if " " in prefix[1:]:
        prefix = prefix.rsplit(" ", 1)[0]
    prefix = _OPEN_CITATION.sub("", prefix)
    return prefix.rstrip() + ELLIPSIS


def fit(text: str, limit: int) -> str:
    """``inert(text)`` cut to ``limit`` characters *after* escaping (escapes lengthen text)."""
    shown = inert(text)
    budget = limit
    while len(shown) > limit and budget > 0:
        budget -= len(shown) - limit
        shown = inert(cut(text, max(budget, len(ELLIPSIS) + 1)))
    return shown[:limit]


def _details(source: Source) -> str:
    parts = [part for part in (source.publisher, source.published) if part]
    return " · ".join(parts)


def answer_embed(answer: Answer) -> discord.Embed:
    """The public reply: the quoted answer with its citations, then one field per source."""
    title = fit(answer.question, TITLE_LIMIT)
    if not answer.answered:
        embed = discord.Embed(title=title, description=fit(answer.text, DESCRIPTION_LIMIT), colour=DECLINED_COLOUR)
        if answer.closest is not None:
            _add_source_field(embed, answer.closest, "Closest passage (not an answer): ", FIELD_LIMIT)
        embed.set_footer(text="Nothing in the articles answers this; it has been noted for the maintainers.")
        return embed
    embed = discord.Embed(title=title, description=fit(answer.text, DESCRIPTION_LIMIT), colour=ANSWERED_COLOUR)
    footer = "Quoted verbatim from the articles. “Sources” shows the full passages; 👍/👎 tell us if it helped."
    embed.set_footer(text=footer)
    sources = answer.sources[:MAX_FIELDS]
    room = EMBED_TOTAL_LIMIT - len(embed) - 50
    for source in sources:
        per_field = min(FIELD_LIMIT, room // len(sources) - FIELD_NAME_LIMIT)
        _add_source_field(embed, source, f"[{source.number}] ", per_field)
    return embed


def _add_source_field(embed: discord.Embed, source: Source, prefix: str, limit: int) -> None:
    name = fit(prefix + source.title, FIELD_NAME_LIMIT)
    details = _details(source)
    link = f"\n<{source.url}>" if source.url and len(source.url) < 300 else ""
    tail = (f"\n— {inert(details)}" if details else "") + link
    quote = fit(f"“{source.quote}”", max(limit - len(tail), 20))
    embed.add_field(name=name, value=(quote + tail)[:FIELD_LIMIT], inline=False)


def stored_sources(answer: Answer) -> list[StoredSource]:
    """What the "Sources" button will show, in a form the database keeps across restarts."""
    shown = answer.sources or ([answer.closest] if answer.closest else [])
    return [StoredSource(s.number, source_label(s), s.quote, s.context or s.quote) for s in shown]


def sources_embeds(question: str, sources: list[StoredSource]) -> list[discord.Embed]:
    """One embed per cited passage (the whole chunk, the quoted part in bold), all within 6,000."""
    sources = sources[:MAX_EMBEDS]
    if not sources:
        return [discord.Embed(description="This answer has no sources to show.", colour=DECLINED_COLOUR)]
    budget = min(DESCRIPTION_LIMIT, (EMBED_TOTAL_LIMIT - 100) // len(sources) - FIELD_NAME_LIMIT)
    embeds = []
    for source in sources:
        title = fit(f"[{source.number}] {source.label}", TITLE_LIMIT)
        embeds.append(discord.Embed(title=title, description=_passage(source, budget), colour=ANSWERED_COLOUR))
    embeds[0].set_author(name=fit(f"Sources for: {question}", FIELD_NAME_LIMIT))
    return embeds


def _passage(source: StoredSource, limit: int) -> str:
    before, found, after = source.context.partition(source.quote)
    if found:
        text = f"{inert(before)}**{inert(source.quote)}**{inert(after)}"
        if len(text) <= limit:
            return text
    return "**" + fit(source.quote, limit - 4) + "**"


def plain(text: str) -> str:
    """A short message (refusals, confirmations) made inert and cut to the content limit."""
    return fit(text, CONTENT_LIMIT)
