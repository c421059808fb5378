"""An index that cannot be updated still answers: `ask` and `chat` serve the live index when a stale
one cannot be rebuilt (a full disk, a directory this user cannot write), say so in one line on stderr
and exit 0; a full disk is named as such with the room a build needs. Real builds, real failures
where the machine allows (a small tmpfs, another user), a failing write otherwise."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bot.cli.main import main
from tests.helpers import KNOWLEDGE, REPO

QUESTION = "When did Progress 71 dock?"
NEW_DOCUMENT = "---\ntitle: Docking\n---\nThe cargo ship docked with the station's Pirs module after two days.\n"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The launch articles and their index, built once for the module."""
    root = tmp_path_factory.mktemp("template")
    shutil.copytree(KNOWLEDGE, root / "knowledge")
    assert main(["index", "--knowledge", str(root / "knowledge"), "--index", str(root / "index")]) == 0
    return root


def stale(template: Path, root: Path, index: Path | None = None) -> list[str]:
    """A copy of the built articles and index under ``root`` (the index at ``index`` if given), then a
    document added: the index is stale."""
    index = index or root / "index"
    shutil.copytree(template / "knowledge", root / "knowledge")
    shutil.copytree(template / "index", index, dirs_exist_ok=True)
    (root / "knowledge" / "docking.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    return ["--knowledge", str(root / "knowledge"), "--index", str(index)]


def short_write(*args, **kwargs):
    """What numpy raises when the disk fills mid-write: an OSError without an errno."""
    raise OSError("17664 requested and 10208 written")


def assert_answered_from_the_stale_index(code: int, out: str, err: str) -> list[str]:
    assert code == 0 and json.loads(out)["answered"]
    said = err.strip().splitlines()
    assert "out of date" in said[0] and "updating" in said[0]
    assert "Answering from the out-of-date index (1 new document(s))" in said[-1]
    assert "Traceback" not in err
    return said[-1]


def test_ask_answers_from_the_live_index_when_a_full_disk_stops_the_update(capsys, template, tmp_path, monkeypatch):
    args = stale(template, tmp_path)
    monkeypatch.setattr(np, "save", short_write)
    said = assert_answered_from_the_stale_index(*run(capsys, "ask", "--json", *args, QUESTION))
    assert "the disk is full" in said and re.search(r"a build needs about [\d.,]+ (kB|MB)", said)
    assert "requested and" not in said


def test_chat_answers_too_and_index_still_fails_naming_the_full_disk(capsys, template, tmp_path, monkeypatch):
    args = stale(template, tmp_path)
    monkeypatch.setattr(np, "save", short_write)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{QUESTION}\n/quit\n"))
    code, out, err = run(capsys, "chat", *args)
    assert code == 0 and "November 18" in out and "the disk is full" in err
    code, out, err = run(capsys, "index", *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "the disk is full (a build needs about " in err and "free there" in err
    assert "the previous index is still serving" in err


def test_a_missing_index_that_cannot_be_written_is_still_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(np, "save", short_write)
    shutil.copytree(KNOWLEDGE, tmp_path / "knowledge")
    args = ["--knowledge", str(tmp_path / "knowledge"), "--index", str(tmp_path / "index")]
    code, out, err = run(capsys, "ask", *args, QUESTION)
    assert code == 2 and out == "" and "the disk is full" in err.splitlines()[-1]


@pytest.fixture
def small_disk():
    """A 3 MB tmpfs: room for the launch index, not for a second version once it is filled."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mount = Path(tempfile.mkdtemp(prefix="launchbot-small-disk-"))
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)
    mount.rmdir()


def test_a_really_full_disk(capsys, template, tmp_path, small_disk: Path):
    args = stale(template, tmp_path, small_disk / "index")
    with (small_disk / "filler").open("wb") as filler:  # fill what is left
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    said = assert_answered_from_the_stale_index(*run(capsys, "ask", "--json", *args, QUESTION))
    assert "the disk is full (a build needs about " in said


def as_nobody(*argv: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1"},
        user=65534,
        group=65534,
        timeout=300,
    )


def test_an_index_directory_another_user_cannot_write(capsys, template):
    """As the unprivileged user ``nobody``: root may write anywhere, so the test cannot run as root."""
    if os.geteuid() != 0:
        pytest.skip("switching to the user nobody needs root")
    root = Path(tempfile.mkdtemp(prefix="launchbot-read-only-"))  # tmp_path's parents are root's alone
    try:
        root.chmod(0o755)
        try:
            probe = as_nobody("-c", "import bot.cli.main", home=root)
        except PermissionError as exc:
            pytest.skip(f"the user nobody cannot run {sys.executable}: {exc}")
        if probe.returncode != 0:
            pytest.skip(f"the user nobody cannot import launchbot here: {probe.stderr.strip()[-200:]}")
        args = stale(template, root)
        result = as_nobody("-m", "bot.cli.main", "ask", "--json", *args, QUESTION, home=root)
        said = assert_answered_from_the_stale_index(result.returncode, result.stdout, result.stderr)
        assert "permission denied" in said and "Make it writable" in said
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_read_only_mounted_index_directory(capsys, template, tmp_path):
    """The index directory bind-mounted read-only: even root cannot write there."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root")
    args = stale(template, tmp_path)
    index = str(tmp_path / "index")
    mounted = subprocess.run(["mount", "--bind", index, index], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", index], check=True, capture_output=True)
        said = assert_answered_from_the_stale_index(*run(capsys, "ask", "--json", *args, QUESTION))
        assert "read-only file system" in said and "Make it writable" in said
    finally:
        subprocess.run(["umount", index], check=False)
