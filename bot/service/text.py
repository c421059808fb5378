"""Text every front end shows: cut and split where a reader expects a cut, untrusted text made visible
as written, refusals as full sentences, and the sources an answer keeps for its "Sources" button.

Platform escaping (Discord markdown, Telegram HTML) lives in each front end's ``render``; what is
common to them is here. Text longer than a limit is cut at the end of a sentence and never inside a
``[n]`` citation, so every citation left standing still points at its source.
"""

from __future__ import annotations

import logging
import re

from bot.core.engine import INVISIBLE, NOTE, Answer, Source
from bot.service.storage import Forgotten, StoredSource

logger = logging.getLogger(__name__)

ELLIPSIS = " …"

# A sentence ends at . ! ? । or … (then closing quotes), and owns the citations that follow it.
_SENTENCE_END = re.compile(r"[.!?।…][\"'”’)\]]*(?:\s*\[\d+\])*(?=\s|$)|\[\d+\](?=\s|$)")
_OPEN_CITATION = re.compile(r"\[\d*$")
_FINAL_PUNCTUATION = tuple(".!?।…:")


def visible(text: str) -> str:
    """``text`` without zero-width and direction-changing characters: shown as it really reads."""
    return text.translate(INVISIBLE)


def _cut_point(text: str, room: int) -> int:
    """Where to end a prefix of at most ``room`` characters: after a sentence if one ends in the
    last two thirds, else after a word outside any citation."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text, 0, room + 1) if match.end() <= room]
    if ends and ends[-1] > room // 3:
        return ends[-1]
    prefix = text[:room]
    if " " in prefix[1:]:
        prefix = prefix.rsplit(" ", 1)[0]
    return len(_OPEN_CITATION.sub("", prefix)) or room


def cut(text: str, limit: int) -> str:
    """``text`` if it fits, else its longest prefix ending a sentence (or, failing that, a word
    outside any citation), followed by an ellipsis."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    return text[: _cut_point(text, room)].rstrip() + ELLIPSIS


def split(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, each ending at a sentence end where one
    falls in its last two thirds; nothing is dropped (only surrounding whitespace)."""
    pieces = []
    rest = text.strip()
    while len(rest) > limit:
        at = _cut_point(rest, limit)
        pieces.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def sentence(text: str) -> str:
    """A message as a full sentence: capitalised, with its full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(_FINAL_PUNCTUATION) else text + "."


def attribution(author: str, date: str) -> str:
    """How a moderator's note is credited wherever it is quoted."""
    return f"Moderator note by {author}, {date}" if date else f"Moderator note by {author}"


def source_title(source: Source) -> str:
    """What a source is called: its document's title, or for a moderator's note its attribution."""
    return source_label(source) if source.document_kind == NOTE else source.title


def source_details(source: Source) -> list[str]:
    """The publisher and date shown under a source's title (a note's are in its attribution)."""
    return [] if source.document_kind == NOTE else [part for part in (source.publisher, source.published) if part]


def source_label(source: Source) -> str:
    """ "Title — Publisher, date, url": only the parts the document's metadata has; a moderator's
    note is credited to its author: "Moderator note by Anna, 2026-12-03"."""
    if source.document_kind == NOTE:
        return attribution(source.author or "a moderator", source.published or "")
    details = ", ".join(part for part in (source.publisher, source.published, source.url) if part)
    return f"{source.title} — {details}" if details else source.title


def stored_sources(answer: Answer) -> list[StoredSource]:
    """What the "Sources" button will show, in a form the database keeps across restarts."""
    shown = answer.sources or ([answer.closest] if answer.closest else [])
    return [StoredSource(s.number, source_label(s), s.quote, s.context or s.quote) for s in shown]


def provenance(document) -> str:
    """Where a document came from, for source lists: "Space.com, published 2018-11-20 · added
    2026-12-03 via link · https://…"; a file put in knowledge/ by hand says so."""
    published = f"published {document.published}" if document.published else None
    parts = [", ".join(part for part in (document.publisher, published) if part)]
    if document.added:
        feed = f" ({document.feed})" if document.feed else ""
        parts.append(f"added {document.added[:10]} via {document.via or 'file'}{feed}")
    else:
        parts.append("a file written by hand")
    parts.append(document.url or "")
    return " · ".join(part for part in parts if part)


def forgotten_text(forgotten: Forgotten, retention_days: int) -> str:
    """What a member is told after ``/forget``."""
    return (
        f"Done: {forgotten.questions} question(s) you asked and {forgotten.votes} vote(s) you gave are deleted. "
        f"Otherwise questions are kept {retention_days} days, and reports never show who asked."
    )
