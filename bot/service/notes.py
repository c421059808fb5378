"""Moderator notes: a gap answered once, for everyone, in the moderator's own words.

A note is a knowledge document of its own (``bot.core.ingest.notes`` writes and reads the files, in
``notes.folder`` inside the knowledge folder): its text is the answer, its front matter says who wrote
it, when, and which questions it answers. Adding or removing one reindexes (only that document is
embedded), so the next question is answered from it, quoted verbatim with "Moderator note by …, date".

Notes answer in every community the bot serves, so chat moderators may write them only in the
communities listed in ``notes.communities`` (Telegram maintainers and the terminal always may).
With ``notes.notify_days`` set, members whose question of the last days the new note now answers can
be told so in their thread or reply chain (``followups``; the front ends send).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.core.engine import Answer, Engine, IndexBusy, NoteFile, NoteMissing, read_notes, remove_note, write_note
from bot.service.storage import Storage, Waiting
from bot.service.text import attribution

logger = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 2000
MAX_QUESTIONS = 10
MAX_AUTHOR_CHARS = 100
MAX_FOLLOWUPS = 20  # members told per note at most
BUSY_RETRIES = 30  # seconds a note waits for a reindex already running


class NoteProblem(ValueError):
    """A note that cannot be written, removed or found; the message says why, for the moderator."""


@dataclass(frozen=True)
class Note:
    id: str
    questions: tuple[str, ...]
    answer: str
    author: str
    date: str  # ISO date, UTC
    path: Path
    doc_id: str  # its id in the index (the path inside the knowledge folder, without the suffix)

    @property
    def attribution(self) -> str:
        return attribution(self.author, self.date)


@dataclass(frozen=True)
class NoteAdded:
    note: Note
    answers: list[tuple[str, Answer]]  # each question of the note, as the bot answers it now

    def check_text(self) -> str:
        """What the bot now does with the note's questions, for the moderator who wrote it."""
        lines = []
        for question, answer in self.answers:
            if any(source.doc_id == self.note.doc_id for source in answer.sources):
                lines.append(f"“{question}” is now answered, quoting the note.")
            elif answer.answered:
                lines.append(f"“{question}” is answered from the articles, which the bot prefers here.")
            else:
                lines.append(f"“{question}” is still declined: word the answer as a full sentence naming its subject.")
        return "\n".join(lines)


def parse_note(parts: Sequence[str]) -> tuple[list[str], str]:
    """``/note add <question> | <answer>`` (or the question and the answer as two arguments)."""
    text = " ".join(part.strip() for part in parts)
    if "|" in text:
        question, _, answer = text.partition("|")
    elif len(parts) == 2:
        question, answer = parts
    else:
        raise NoteProblem("Write the question, then | and the answer: /note add When is the next launch? | It is …")
    return [question.strip()], answer.strip()


class Notes:
    """The notes of one knowledge folder, and the engine that answers from them."""

    def __init__(self, settings: Settings, engine: Engine | None, storage: Storage | None) -> None:
        self.settings = settings
        self.engine = engine
        self.storage = storage

    @property
    def folder(self) -> Path:
        return self.settings.knowledge_dir / self.settings.notes.folder

    def refusal(self, platform: str, community: str | None) -> str:
        """Why moderators of this community may not write notes ("" when they may)."""
        where = f"{platform}:{community}"
        if community is not None and where in self.settings.notes.communities:
            return ""
        return (
            "Notes answer in every community the bot serves, so only moderators of the communities listed in "
            f"notes.communities (launchbot.yaml) can write them. To allow this one, add {where}."
        )

    # ------------------------------------------------------------------ the notes

    def list(self) -> list[Note]:
        return [_note(found) for found in read_notes(self.settings.knowledge_dir, self.settings.notes.folder)]

    def add(self, questions: Sequence[str], answer: str, author: str) -> NoteAdded:
        """Write the note, reindex, and answer its questions again. Slow: call it from a worker thread.
        A note that cannot be indexed is removed again, so none is left half-added."""
        questions, answer, author = _checked(questions, answer, author, self.settings.max_question_chars)
        today = datetime.now(UTC).date().isoformat()
        written = write_note(self.settings.knowledge_dir, self.settings.notes.folder, questions, answer, author, today)
        note = _note(written)
        try:
            self._reindex()
        except Exception:
            written.path.unlink(missing_ok=True)
            raise
        logger.info("moderator note %s written (%s)", note.id, note.path)
        return NoteAdded(note, [(question, self.engine.answer(question)) for question in questions])

    def remove(self, note_id: str) -> Note:
        try:
            removed = _note(remove_note(self.settings.knowledge_dir, self.settings.notes.folder, note_id))
        except NoteMissing as missing:
            raise NoteProblem(str(missing)) from None
        self._reindex()
        logger.info("moderator note %s removed", removed.id)
        return removed

    def _reindex(self) -> None:
        """Reindex now, or as soon as a reindex already running has finished."""
        for _ in range(BUSY_RETRIES):
            try:
                self.engine.reindex()
                return
            except IndexBusy:
                time.sleep(1.0)
        raise NoteProblem("A reindex is running and did not finish in time; try again in a minute.")

    def questions_of(self, question_ids: Sequence[int]) -> list[str]:
        """The stored questions with these ids (a /gaps topic's examples), those still kept."""
        found = (self.storage.get_answer(question_id) for question_id in question_ids)
        return list(dict.fromkeys(stored.question for stored in found if stored is not None))

    # ------------------------------------------------------------------ telling members

    def followups(self, platform: str, community: str | None, note: Note) -> list[tuple[Waiting, Answer]]:
        """The unserved questions (declined, or voted down) of the last ``notes.notify_days`` days in
        this community that the bot now answers quoting ``note``, with those answers (none when
        notify_days is 0)."""
        days = self.settings.notes.notify_days
        if not days or self.storage is None:
            return []
        found = []
        for waiting in self.storage.waiting(platform, community, time.time() - days * 86_400):
            answer = self.engine.answer(waiting.question)
            if any(source.doc_id == note.doc_id for source in answer.sources):
                found.append((waiting, answer))
                if len(found) == MAX_FOLLOWUPS:
                    break
        return found


def _checked(questions: Sequence[str], answer: str, author: str, max_question_chars: int) -> tuple:
    questions = list(dict.fromkeys(q.strip() for q in questions if q.strip()))
    answer, author = answer.strip(), " ".join(author.split())
    if not questions:
        raise NoteProblem("A note needs the question it answers.")
    if len(questions) > MAX_QUESTIONS:
        raise NoteProblem(f"A note answers at most {MAX_QUESTIONS} questions; this one lists {len(questions)}.")
    if too_long := [q for q in questions if len(q) > max_question_chars]:
        raise NoteProblem(f"A question can be at most {max_question_chars} characters; one has {len(too_long[0])}.")
    if not answer:
        raise NoteProblem("A note needs its answer: write it after the |.")
    if len(answer) > MAX_ANSWER_CHARS:
        raise NoteProblem(f"An answer can be at most {MAX_ANSWER_CHARS} characters; this one has {len(answer)}.")
    if not author:
        raise NoteProblem("A note needs its author's name.")
    return questions, answer, author[:MAX_AUTHOR_CHARS]


def _note(found: NoteFile) -> Note:
    return Note(found.id, tuple(found.questions), found.answer, found.author, found.date, found.path, found.doc_id)
