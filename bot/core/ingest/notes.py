"""Moderator notes as knowledge documents: one Markdown file per note in the notes folder of the
knowledge directory. Its front matter says what it is (``kind: note``), who wrote it, when, and which
questions it answers; the text after it is the answer, kept verbatim like an article's, since every
quote the bot shows is a slice of it. ``knowledge.py`` loads notes like any document, so they are
chunked, embedded and indexed like articles.

A note is written whole to a hidden file, then published under the next free number with a hard
link, which fails if that name exists: two moderators adding notes at once get two numbers, and a
loader never sees half a note (hidden files are not documents).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.ingest.knowledge import NOTE, DocumentError, read_document

logger = logging.getLogger(__name__)

_NAME = re.compile(r"note-(\d+)\.md")
MAX_NOTE_BYTES = 100_000


class NoteMissing(LookupError):
    """No note has that id; the message says which ones there are."""


@dataclass(frozen=True)
class NoteFile:
    id: str  # its number, as text
    doc_id: str  # its id in the index: the path inside the knowledge folder, without the suffix
    path: Path
    questions: tuple[str, ...]
    answer: str
    author: str
    date: str


def note_title(questions: list[str] | tuple[str, ...]) -> str:
    return f"Moderator note: {questions[0]}"


def write_note(knowledge_dir: Path, folder: str, questions: list[str], answer: str, author: str, date: str) -> NoteFile:
    """Write a new note under the next free number and return it as the loader reads it."""
    directory = knowledge_dir / folder
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"kind": NOTE, "title": note_title(questions), "author": author, "date": date, "questions": questions}
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    hidden = directory / f".note-{uuid.uuid4().hex}.partial"
    hidden.write_text(f"---\n{front}---\n{answer.strip()}\n", encoding="utf-8")
    try:
        number = max(_numbers(directory), default=0) + 1
        while True:
            path = directory / f"note-{number}.md"
            try:
                os.link(hidden, path)  # fails if the name is taken: never overwrites a note
                break
            except FileExistsError:
                number += 1
    finally:
        hidden.unlink(missing_ok=True)
    return read_note(knowledge_dir, folder, path)


def read_note(knowledge_dir: Path, folder: str, path: Path) -> NoteFile:
    """One note file (``DocumentError`` if it is not a readable note)."""
    doc_id = (Path(folder) / path.stem).as_posix()
    document = read_document(path, doc_id, MAX_NOTE_BYTES)
    if document.kind != NOTE:
        raise DocumentError("not a note (its front matter lacks kind: note)")
    found = _NAME.fullmatch(path.name)
    return NoteFile(
        id=found[1] if found else path.stem,
        doc_id=doc_id,
        path=path,
        questions=document.questions,
        answer=document.text.strip(),
        author=document.author or "a moderator",
        date=document.published or "",
    )


def read_notes(knowledge_dir: Path, folder: str) -> list[NoteFile]:
    """Every note, in number order; a file that is not a readable note is logged and skipped (the
    index build reports it too)."""
    directory = knowledge_dir / folder
    if not directory.is_dir():
        return []
    notes = []
    for path in sorted(directory.glob("note-*.md"), key=_number):
        try:
            notes.append(read_note(knowledge_dir, folder, path))
        except (DocumentError, OSError) as error:
            logger.warning("skipped note %s: %s", path, error)
    return notes


def remove_note(knowledge_dir: Path, folder: str, note_id: str) -> NoteFile:
    """Delete a note by its id and return what it was."""
    for note in read_notes(knowledge_dir, folder):
        if note.id == note_id.strip().removeprefix("#"):
            note.path.unlink()
            return note
    ids = ", ".join(note.id for note in read_notes(knowledge_dir, folder)) or "none yet"
    raise NoteMissing(f"There is no note {note_id!r} (notes: {ids}).")


def _numbers(directory: Path) -> list[int]:
    return [int(found[1]) for path in directory.iterdir() if (found := _NAME.fullmatch(path.name))]


def _number(path: Path) -> int:
    found = _NAME.fullmatch(path.name)
    return int(found[1]) if found else 0
