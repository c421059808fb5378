"""Long work is never silent: `index` shows how far embedding is, a bar on a terminal and a line
every few seconds elsewhere, with documents, chunks and the time left; an index of no documents
is a warning saying why."""

from __future__ import annotations

import io

import pytest

import bot.cli.progress
from bot.cli.main import main
from bot.cli.progress import ProgressBar, ProgressLines, build_progress
from bot.core.engine import BuildProgress


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_lines_every_few_seconds_with_counts_and_time_left():
    now = [0.0]
    stream = io.StringIO()
    lines = ProgressLines(stream, every=5, delay=2, clock=lambda: now[0])
    status = BuildProgress(documents=1, chunks=3379, sentences=12180, texts=15559)
    for second, embedded in ((0, 0), (1, 100), (3, 1000), (4, 1500), (9, 3000), (10, 3100), (60, 15559)):
        now[0] = second
        lines(BuildProgress(1, 3379, 12180, status.texts, embedded))
    said = stream.getvalue().splitlines()
    assert len(said) == 3  # quiet for the first 2 s, then at 3 s, 9 s (5 s later) and at the end
    assert said[0] == (
        "indexing 1 document(s): 3,379 chunks + 12,180 sentences: embedded 1,000 of 15,559 texts (6%), about 44 s left"
    )
    assert "3,000 of 15,559" in said[1] and "min left" not in said[1]
    assert said[2].endswith("embedded 15,559 of 15,559 texts (100%)")


def test_small_work_shows_nothing():
    now = [0.0]
    stream = io.StringIO()
    lines = ProgressLines(stream, clock=lambda: now[0])
    lines(BuildProgress(3, 18, 44, 1))
    now[0] = 1.0
    lines(BuildProgress(3, 18, 44, 1, 1))
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(build_progress(Terminal()), ProgressBar)
    assert isinstance(build_progress(io.StringIO()), ProgressLines)


def test_index_reports_its_progress_when_not_on_a_terminal(capsys, settings, monkeypatch):
    monkeypatch.setattr(bot.cli.progress, "QUIET_SECONDS", 0.0)
    monkeypatch.setattr(bot.cli.progress, "LINE_EVERY_SECONDS", 0.0)
    args = ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    code, out, err = run(capsys, "index", *args)
    assert code == 0 and "indexed" in out
    said = [line for line in err.splitlines() if line.startswith("indexing")]
    assert said and "3 document(s): 18 chunks + 44 sentences: embedded" in said[0]
    assert said[-1].endswith("(100%)")


@pytest.mark.parametrize("case", ["empty directory", "every document too large"])
def test_an_index_of_no_documents_is_a_warning_saying_why(capsys, tmp_path, settings, case):
    knowledge = tmp_path / "empty"
    knowledge.mkdir()
    args = ["--knowledge", str(knowledge), "--index", str(tmp_path / "empty-index")]
    if case == "every document too large":
        args[1] = str(settings.knowledge_dir)
        (tmp_path / "small.yaml").write_text("max_document_bytes: 100\n", encoding="utf-8")
        args += ["--config", str(tmp_path / "small.yaml")]
    code, out, err = run(capsys, "index", *args)
    assert code == 0 and "indexed 0 chunks" in out
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "the index holds no documents" in warning[0]
    if case == "empty directory":
        assert "no .md, .markdown or .txt file" in warning[0] and str(knowledge) in warning[0]
    else:
        skipped = [line for line in err.splitlines() if line.startswith("skipped")]
        assert len(skipped) == 3 and all("too large" in line and "max_document_bytes" in line for line in skipped)
        assert "every document" in warning[0] and "was skipped" in warning[0]
