"""Moderator notes as documents: written whole under the next free number (never over another note,
also when written at once), read back with their author, date and questions, loaded by the knowledge
loader like any document, and removed by id."""

from __future__ import annotations

import threading

import pytest

from bot.core.ingest.knowledge import ARTICLE, NOTE, DocumentError, load_documents, parse_document
from bot.core.ingest.notes import NoteMissing, read_notes, remove_note, write_note


def test_a_note_is_a_document_with_its_author_date_and_questions(tmp_path):
    questions = ["What was the weather at Baikonur?", "लॉन्च के समय मौसम कैसा था?"]
    answer = "Clear and cold: about −5 °C, with a light wind.\n\nSource: the Roscosmos launch broadcast."
    note = write_note(tmp_path, "notes", questions, answer, "Anna: moderator", "2026-12-03")
    assert (note.id, note.doc_id, note.path.name) == ("1", "notes/note-1", "note-1.md")
    assert (note.questions, note.answer, note.author, note.date) == (
        tuple(questions),
        answer,
        "Anna: moderator",
        "2026-12-03",
    )

    [document] = load_documents(tmp_path).documents
    assert document.doc_id == "notes/note-1" and document.kind == NOTE and document.questions == tuple(questions)
    assert document.author == "Anna: moderator" and document.published == "2026-12-03"
    assert document.title == "Moderator note: What was the weather at Baikonur?"
    assert document.text == answer + "\n"  # verbatim: quotes are slices of it
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["note-1.md"]  # no temporary file left


def test_notes_are_numbered_one_after_another_even_when_written_at_once(tmp_path):
    def add(n: int) -> None:
        write_note(tmp_path, "notes", [f"Question {n}?"], f"Answer {n}.", "Anna", "2026-12-03")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    notes = read_notes(tmp_path, "notes")
    assert [note.id for note in notes] == [str(n) for n in range(1, 9)]
    assert sorted(note.answer for note in notes) == sorted(f"Answer {n}." for n in range(8))  # none overwritten

    removed = remove_note(tmp_path, "notes", "3")
    assert removed.id == "3" and not removed.path.exists()
    assert write_note(tmp_path, "notes", ["Another?"], "Yes.", "Anna", "2026-12-04").id == "9"  # 3 is not reused
    with pytest.raises(NoteMissing, match=r"no note '3' \(notes: 1, 2, 4, 5, 6, 7, 8, 9\)"):
        remove_note(tmp_path, "notes", "3")


def test_front_matter_kind_questions_and_date_are_checked(tmp_path):
    article = parse_document(b"---\ntitle: A\ndate: 2018-11-16\n---\nText.", doc_id="a", path="a.md")
    assert article.kind == ARTICLE and article.published == "2018-11-16" and article.questions == ()
    with pytest.raises(DocumentError, match="'kind' must be article or note"):
        parse_document(b"---\nkind: memo\n---\nText.", doc_id="a", path="a.md")
    with pytest.raises(DocumentError, match="'questions' must be a list of questions"):
        parse_document(b"---\nkind: note\nquestions: Why?\n---\nText.", doc_id="a", path="a.md")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "note-1.md").write_text("---\ntitle: not a note\n---\nText.", encoding="utf-8")
    assert read_notes(tmp_path, "notes") == []  # reported in the log and by the index build, not a note
