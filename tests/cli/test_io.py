"""Hostile input and output for the command line: every input line gives one valid UTF-8 JSON line,
in order, whatever bytes it holds; a reader that leaves early (``| head``) is no error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks.fuzz import check_json_lines, fuzzed_lines
from bot.cli.main import main
from tests.helpers import REPO


def launchbot(*argv: str, stdin: bytes = b"", env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *argv],
        input=stdin,
        capture_output=True,
        env=environment,
        cwd=REPO,
        timeout=300,
        **kwargs,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> list[str]:
    """CLI arguments of an index built once for this module."""
    from tests.helpers import make_settings

    settings = make_settings(tmp_path_factory.mktemp("io"))
    args = ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    assert main(["index", *args]) == 0
    return args


@pytest.mark.slow
@pytest.mark.parametrize("locale", ["strict", "default"])
def test_fuzzed_stdin_gives_one_valid_json_line_per_line(built, locale):
    inputs = fuzzed_lines(300)
    env = {"PYTHONIOENCODING": "utf-8:strict"} if locale == "strict" else {"LC_ALL": "C.UTF-8"}
    result = launchbot("ask", "--json", *built, "-", stdin=b"\n".join(inputs) + b"\n", env=env)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    records = check_json_lines(result.stdout, inputs)
    assert any(record["answered"] for record in records)


def test_blank_lines_keep_their_place_as_empty_problems(built):
    inputs = [b"When did Progress 71 dock?", b"", b"   ", b"Where was the rocket launched from?"]
    result = launchbot("ask", "--json", *built, "-", stdin=b"\n".join(inputs) + b"\n")
    records = check_json_lines(result.stdout, inputs)
    assert [record["problem"] for record in records] == [None, "empty", "empty", None]
    assert [record["answered"] for record in records] == [True, False, False, True]


def test_invalid_bytes_in_an_argument_are_replaced_not_echoed(built):
    result = launchbot("ask", "--json", *built, os.fsdecode(b"caf\xe9 launch?"))
    assert result.returncode == 0
    assert json.loads(result.stdout.decode("utf-8"))["question"] == "caf\ufffd launch?"


@pytest.mark.parametrize("command", ["ask", "sources"])
def test_a_reader_that_leaves_early_is_no_error(built, command):
    argv = [command, *built] + (["-"] if command == "ask" else [])
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=REPO,
    )
    process.stdout.close()  # as `| head -0` would: every write now fails with EPIPE
    _, err = process.communicate(b"When did Progress 71 dock?\n" * 50, timeout=300)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode(errors="replace")
    assert process.returncode == 0


def test_a_skipped_document_is_reported_once_and_ask_stays_quiet(tmp_path):
    from tests.helpers import make_settings

    settings = make_settings(tmp_path)
    (settings.knowledge_dir / "broken.md").write_bytes(b"---\ntitle: [oops\n---\nText.\n")
    args = ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    for command, expected in (["index"], 1), (["sources"], 1), (["ask", "When did Progress 71 dock?"], 0):
        result = launchbot(command[0], *args, *command[1:])
        assert result.returncode == 0
        assert (result.stdout + result.stderr).count(b"broken.md") == expected, (command, result.stderr)


def test_a_refused_question_is_echoed_up_to_500_characters(built):
    huge = "why " * 250_000  # a megabyte on one line
    result = launchbot("ask", "--json", *built, "-", stdin=(huge + "\nWhen did Progress 71 dock?\n").encode())
    refused, answered = (json.loads(line) for line in result.stdout.decode("utf-8").splitlines())
    assert refused["problem"] == "too_long" and refused["question"] == huge[:500]
    assert answered["question"] == "When did Progress 71 dock?" and answered["answered"]
