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

from bot.core.engine import DETAILS, DETAILS_LABEL, NOTE, Answer, Source
from bot.service.gaps import GapReport, Topic, closest_heading
from bot.service.notes import Note
from bot.service.storage import StoredSource
from bot.service.text import ELLIPSIS, cut, source_details, source_label, source_title, visible

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
CLOSEST_LABEL = "closest passage, not an answer"


# An opening bracket not already escaped (an even run of backslashes before it, escapes included).
_OPEN_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")


def inert(text: str) -> str:
    """Shown exactly as written: no pings, no markdown, no invisible or direction-changing characters.

    ``escape_markdown`` escapes only the first ``[`` of what it takes for one masked link, so in
    ``[1] [click](https://evil.example)`` the link would survive: once text holds a ``](``, every
    bracket that opens one is escaped. Citations such as ``[1]`` are left as they are otherwise."""
    shown = escape_markdown(escape_mentions(visible(text)))
    return _OPEN_BRACKET.sub(r"\1\\[", shown) if "](" in shown else shown


def fit(text: str, limit: int) -> str:
    """``inert(text)`` cut to ``limit`` characters *after* escaping (escapes lengthen text)."""
    shown = inert(text)
    budget = limit
    while len(shown) > limit and budget > 0:
        budget -= len(shown) - limit
        shown = inert(cut(text, max(budget, len(ELLIPSIS) + 1)))
    return shown[:limit]


def _details(source: Source) -> str:
    return " · ".join(source_details(source))


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
    if answer.basis == DETAILS:
        embed.set_author(name=DETAILS_LABEL)
    noted = any(source.document_kind == NOTE for source in answer.sources)
    origin = "the articles and a moderator's note" if noted else "the articles"
    footer = f"Quoted verbatim from {origin}. “Sources” shows the full passages; 👍/👎 tell us if it helped."
    embed.set_footer(text=footer)
    sources = answer.sources[:MAX_FIELDS]
    room = EMBED_TOTAL_LIMIT - len(embed) - 50
    for source in sources:
        per_field = min(FIELD_LIMIT, room // len(sources) - FIELD_NAME_LIMIT)
        _add_source_field(embed, source, f"[{source.number}] ", per_field)
    return embed


def _add_source_field(embed: discord.Embed, source: Source, prefix: str, limit: int) -> None:
    name = fit(prefix + source_title(source), FIELD_NAME_LIMIT)
    details = _details(source)
    link = f"\n<{source.url}>" if source.url and len(source.url) < 300 else ""
    tail = (f"\n— {inert(details)}" if details else "") + link
    quote = fit(f"“{source.quote}”", max(limit - len(tail), 20))
    embed.add_field(name=name, value=(quote + tail)[:FIELD_LIMIT], inline=False)


def sources_embeds(question: str, sources: list[StoredSource], answered: bool = True) -> list[discord.Embed]:
    """One embed per cited passage (the whole chunk, the quoted part in bold), all within 6,000. A
    declined answer's only "source" is the closest passage: labelled so, in the declined colour."""
    sources = sources[:MAX_EMBEDS]
    if not sources:
        return [discord.Embed(description="This answer has no sources to show.", colour=DECLINED_COLOUR)]
    budget = min(DESCRIPTION_LIMIT, (EMBED_TOTAL_LIMIT - 100) // len(sources) - FIELD_NAME_LIMIT)
    embeds = []
    for source in sources:
        label = f"[{source.number}] {source.label}" if answered else f"{CLOSEST_LABEL}: {source.label}"
        colour = ANSWERED_COLOUR if answered else DECLINED_COLOUR
        embeds.append(discord.Embed(title=fit(label, TITLE_LIMIT), description=_passage(source, budget), colour=colour))
    heading = f"Sources for: {question}" if answered else f"Not answered: {question}"
    embeds[0].set_author(name=fit(heading, FIELD_NAME_LIMIT))
    return embeds


def _passage(source: StoredSource, limit: int) -> str:
    before, found, after = source.context.partition(source.quote)
    if found:
        text = f"{inert(before)}**{inert(source.quote)}**{inert(after)}"
        if len(text) <= limit:
            return text
    return "**" + fit(source.quote, limit - 4) + "**"


def gaps_embed(report: GapReport, notes_hint: str = "") -> discord.Embed:
    """``/gaps``: one field per topic (examples, then the closest passage), most people first."""
    title = f"What the articles miss: last {report.days:g} day(s)"
    if not report.topics:
        return discord.Embed(
            title=title, description="Nothing declined or voted down in this period.", colour=DECLINED_COLOUR
        )
    grouping = "" if report.grouped else " Too few to group into topics: each question on its own."
    description = (
        f"{report.questions} question(s) from {report.people} people were declined or voted down. "
        f"Most people first; the trend is against the {report.days:g} days before.{grouping}"
    )
    embed = discord.Embed(title=title, description=description, colour=ANSWERED_COLOUR)
    per_field = min(FIELD_LIMIT, (EMBED_TOTAL_LIMIT - len(title) - len(description) - 400) // len(report.topics))
    for number, topic in enumerate(report.topics, start=1):
        name = f"{number}. {topic.people} people ({topic.trend}) · {topic.questions} question(s)"
        embed.add_field(name=name, value=_topic_text(topic, per_field - FIELD_NAME_LIMIT // 4), inline=False)
    more = f"…and {report.more} more. " if report.more else ""
    hint = notes_hint or "✍️ Answer n: write the answer once, as a moderator note quoted with your name."
    embed.set_footer(text=cut(more + hint, FOOTER_LIMIT))
    return embed


def _topic_text(topic: Topic, limit: int) -> str:
    examples = "\n".join(f"• {fit(question, 150)}" for question in topic.examples)
    heading = closest_heading(topic)
    if topic.closest is None:
        return (examples + f"\n*{heading}*")[:limit]
    where = f"\n*{heading} {fit(source_label(topic.closest), 120)}:*\n"
    room = max(limit - len(examples) - len(where), 40)
    return (examples + where + fit(f"“{topic.closest.quote}”", room))[:limit]


def note_embed(note: Note, text: str = "") -> discord.Embed:
    """A moderator note as the bot will quote it, with what it answers."""
    embed = discord.Embed(
        title=fit(f"Moderator note {note.id}", TITLE_LIMIT),
        description=fit(f"“{note.answer}”", DESCRIPTION_LIMIT - 1100),
        colour=ANSWERED_COLOUR,
    )
    embed.add_field(name="Answers", value=fit("\n".join(note.questions), FIELD_LIMIT), inline=False)
    if text:
        embed.add_field(name="Now", value=fit(text, FIELD_LIMIT), inline=False)
    embed.set_footer(text=cut(visible(note.attribution), FOOTER_LIMIT))
    return embed


def plain(text: str) -> str:
    """A short message (refusals, confirmations) made inert and cut to the content limit."""
    return fit(text, CONTENT_LIMIT)
