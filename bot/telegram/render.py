"""Answers as Telegram HTML messages: every piece of member and article text escaped, within
Telegram's 4,096 characters (split at sentence ends, never inside a tag or a citation), with the
keyboard under each answer.

Escaping is ``html.escape`` of the visible text (no zero-width or direction-changing characters),
plus a zero-width space after ``@`` so an @username quoted from an article or a question cannot
notify anyone. The keyboard carries the answer's id: "Sources" is a deep link into the private chat
(``/start src_<id>``), the votes are callback buttons (``vote:<id>:up``: well within 64 bytes).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.engine import DETAILS, DETAILS_LABEL, Answer, Source
from bot.service.gaps import GapReport, Topic, closest_heading
from bot.service.notes import Note
from bot.service.storage import Stats, StoredSource
from bot.service.text import cut, source_details, source_label, source_title, split, visible

logger = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption
CALLBACK_DATA_LIMIT = 64
INLINE_TITLE_LIMIT = 100
SOURCES_PREFIX = "src_"
VOTES = {"up": (1, "👍"), "down": (-1, "👎")}
_AT_NAME = re.compile(r"@(?=\w)")


def escape(text: str) -> str:
    """Member or article text, safe inside HTML parse mode, shown as written, pinging no one."""
    return _AT_NAME.sub("@\u200b", html.escape(visible(text), quote=False))


def escaped_pieces(text: str, limit: int) -> list[str]:
    """``escape(text)`` in pieces of at most ``limit`` characters, cut at sentence ends of the
    text itself (escaping lengthens text, so a piece that grew past the limit is split again)."""
    pieces = []
    for piece in split(text, limit):
        shown = escape(piece)
        if len(shown) <= limit:
            pieces.append(shown)
        else:
            pieces.extend(escaped_pieces(piece, max(1, limit - (len(shown) - limit) - 1)))
    return pieces


def pack(blocks: Iterable[str], limit: int = MESSAGE_LIMIT, separator: str = "\n\n") -> list[str]:
    """HTML blocks (each complete, each within ``limit``) joined into as few messages as fit."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + len(separator) + len(block) <= limit:
            messages[-1] += separator + block
        else:
            messages.append(block)
    return messages


def _details(source: Source) -> str:
    return " · ".join(escape(cut(part, 200)) for part in source_details(source))


def _source_line(source: Source, prefix: str) -> str:
    """One source, within a few hundred characters whatever its metadata (so lines always pack)."""
    title = escape(cut(source_title(source), 300))
    if source.url and len(source.url) < 300 and source.url.startswith(("https://", "http://")):
        title = f'<a href="{html.escape(visible(source.url), quote=True)}">{title}</a>'
    details = _details(source)
    return f"{prefix}{title}" + (f" — {details}" if details else "")


def answer_blocks(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The answer's text, then one line per source (the full passages are behind "Sources")."""
    blocks = escaped_pieces(answer.text, limit)
    if answer.answered and answer.basis == DETAILS:
        blocks.insert(0, f"<i>{escape(DETAILS_LABEL)}</i>")
    if answer.answered and answer.sources:
        lines = ["<b>Sources</b>", *(_source_line(s, f"[{s.number}] ") for s in answer.sources)]
        blocks.extend(pack(lines, limit, separator="\n"))
    elif answer.closest is not None:
        quote = escape(cut(f"“{answer.closest.quote}”", 1000))
        blocks.append(f"<b>Closest passage (not an answer)</b>\n<i>{quote}</i>\n{_source_line(answer.closest, '')}")
    return blocks


def answer_messages(answer: Answer, limit: int = MESSAGE_LIMIT) -> list[str]:
    """The answer as one or more messages, each within ``limit`` (Telegram's, by default)."""
    return pack(answer_blocks(answer, limit), limit)


def keyboard(
    question_id: int, bot_username: str | None, *, with_sources: bool = True, with_votes: bool = True
) -> InlineKeyboardMarkup | None:
    """Sources (a deep link to the private chat) and 👍/👎 for one stored answer; a decline gets no
    votes (it is on the unanswered list already). None when there is no button to show."""
    row = []
    if with_sources and bot_username:
        link = f"https://t.me/{bot_username}?start={SOURCES_PREFIX}{question_id}"
        row.append(InlineKeyboardButton("📄 Sources", url=link))
    for direction, (_, emoji) in VOTES.items() if with_votes else ():
        data = vote_data(question_id, direction)
        row.append(InlineKeyboardButton(emoji, callback_data=data))
    return InlineKeyboardMarkup([row]) if row else None


def vote_data(question_id: int, direction: str) -> str:
    data = f"vote:{question_id}:{direction}"
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {data}")
    return data


def sources_messages(question: str, sources: Sequence[StoredSource], *, answered: bool = True) -> list[str]:
    """The question they belong to, then each cited passage in full, the quoted part in bold. A
    decline's only passage is the closest one, labelled not an answer."""
    heading = "Sources for" if answered else "Not answered"
    blocks = [f"<b>{heading}:</b> {escape(cut(question, 500))}"]
    if not sources:
        return pack([*blocks, "This answer has no sources to show."])
    for source in sources:
        label = f"[{source.number}] " if answered else "Closest passage (not an answer): "
        head = f"<b>{label}{escape(cut(source.label, 500))}</b>\n"
        before, found, after = source.context.partition(source.quote)
        if found and len(source.context) < MESSAGE_LIMIT // 2:
            body = f"{escape(before)}<b>{escape(source.quote)}</b>{escape(after)}"
        else:
            body = f"<b>{escape(cut(source.quote, MESSAGE_LIMIT // 2))}</b>"
        blocks.append(head + body)
    return pack(blocks)


def plain(text: str) -> str:
    """A short message of the bot's own (refusals, confirmations), escaped."""
    return escape(cut(text, MESSAGE_LIMIT // 2))


def stats_caption(stats: Stats, heading: str, held_back: str = "") -> str:
    """``/stats``'s figures, as the chart's caption: the top questions as many as fit in 1,024."""
    dropped = (
        f"Dropped quietly since the bot started (one notice each window): {escape(held_back)}\n" if held_back else ""
    )
    head = (
        f"<b>{escape(heading)}</b>\n"
        f"Asked {stats.asked} · answered {stats.answered} · declined {stats.declined}\n"
        f"Feedback: 👍 {stats.up} · 👎 {stats.down}\n{dropped}\n<b>Top questions</b>"
    )
    lines = [f"{n}× {escape(cut(question, 150))}" for question, n in stats.top] or ["—"]
    while lines and len(head) + sum(len(line) + 1 for line in lines) > CAPTION_LIMIT:
        lines.pop()
    return "\n".join([head, *lines])


def gaps_messages(report: GapReport, notes_hint: str = "") -> list[str]:
    """``/gaps``: the topics, most people first, each with its examples and closest passage."""
    title = f"<b>What the articles miss: last {report.days:g} day(s)</b>"
    if not report.topics:
        return [f"{title}\nNothing declined or voted down in this period."]
    grouping = "" if report.grouped else " Too few to group into topics: each question on its own."
    blocks = [
        f"{title}\n{report.questions} question(s) from {report.people} people were declined or voted down. "
        f"Most people first; the trend is against the {report.days:g} days before.{grouping}"
    ]
    blocks += [_topic_block(number, topic) for number, topic in enumerate(report.topics, start=1)]
    if report.more:
        blocks.append(f"…and {report.more} more.")
    hint = notes_hint or "✍️ n: reply with the answer once, as a moderator note quoted with your name."
    blocks.append(f"<i>{escape(hint)}</i>")
    return pack(blocks)


def _topic_block(number: int, topic: Topic) -> str:
    examples = "\n".join(f"• {escape(cut(question, 200))}" for question in topic.examples)
    head = f"<b>{number}.</b> {topic.people} people ({escape(topic.trend)}) · {topic.questions} question(s)"
    heading = closest_heading(topic)
    if topic.closest is None:
        return f"{head}\n{examples}\n<i>{escape(heading)}</i>"
    where = escape(cut(f"{heading} {source_label(topic.closest)}:", 300))
    return f"{head}\n{examples}\n<i>{where}</i> “{escape(cut(topic.closest.quote, 300))}”"


def note_text(note: Note, text: str = "") -> str:
    """A moderator note as the bot will quote it, and what it now answers."""
    questions = "\n".join(f"• {escape(cut(q, 300))}" for q in note.questions)
    return pack(
        [
            f"<b>Moderator note {escape(note.id)}</b> ({escape(note.attribution)})\n“{escape(cut(note.answer, 2000))}”",
            f"<b>Answers</b>\n{questions}",
            escape(text),
        ]
    )[0]
