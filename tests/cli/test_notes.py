"""``launchbot note add|list|remove`` from the terminal, and the note quoted with its attribution by
``ask`` (text and JSON)."""

from __future__ import annotations

import json

from bot.cli.main import main

QUESTION = "Who was the commander of the Soyuz?"
ANSWER = "The Progress MS-10 flight had no crew: a cargo ship has no commander."


def test_a_note_from_the_terminal_answers_and_is_credited(capsys, settings):
    paths = ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    assert main(["note", "add", f"{QUESTION} | {ANSWER}", "--author", "Mission Control", *paths]) == 0
    out = capsys.readouterr().out
    assert "added note 1" in out and "Moderator note by Mission Control" in out and "now answered" in out

    assert main(["note", "list", *paths]) == 0
    listed = capsys.readouterr().out
    assert "1  Moderator note by Mission Control" in listed and ANSWER in listed and "1 note(s)" in listed

    assert main(["ask", QUESTION, *paths]) == 0
    out = capsys.readouterr().out
    assert f"“{ANSWER}”" in out and "[1] Moderator note by Mission Control" in out
    assert main(["ask", "--json", QUESTION, *paths]) == 0
    [source] = json.loads(capsys.readouterr().out)["sources"][:1]
    assert (source["document_kind"], source["author"], source["quote"]) == ("note", "Mission Control", ANSWER)

    assert main(["sources", *paths]) == 0
    assert "notes/note-1" in capsys.readouterr().out  # notes show in `sources`

    assert main(["note", "remove", "1", *paths]) == 0
    assert "removed note 1" in capsys.readouterr().out
    assert main(["note", "remove", "1", *paths]) == 2
    assert "There is no note '1' (notes: none yet)" in capsys.readouterr().err
    assert main(["note", "add", "no separator here", *paths]) == 2
    assert "then | and the answer" in capsys.readouterr().err
