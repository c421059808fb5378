"""Fuzzed questions through one ``launchbot ask --json -``: every line must give one valid JSON line.

``python -m benchmarks.fuzz [--lines 10000]`` builds the launch index in a scratch directory, sends
that many fuzzed lines (invalid UTF-8, blank and whitespace-only lines, controls, separators,
long lines) through one process under strict UTF-8 stdio, and checks the output: exactly one valid
UTF-8 JSON object per input line, in order, echoing that line's question (a refused one up to its
first 500 characters), and exit code 0.
tests/cli/test_io.py runs the same check on a few hundred lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO
from bot.core.answering.compose import ECHO_CHARS
from bot.core.answering.question import clean_question

PIECES = [
    b"When did Progress 71 dock?",
    b"Where was the rocket launched from?",
    b"",
    b"   \t ",
    b"\r",
    b"\xff\xfe",
    b"caf\xe9 launch?",
    b"\xc3",
    b"\xed\xa0\x80 surrogate",
    b"\xf4\x90\x80\x80",
    b"\x00\x07\x1b[31m",
    "\u2028\u2029\x85 separators".encode(),
    "\u202ertl\u202c".encode(),
    "火箭是什么时候发射的？".encode(),
    b"rocket " * 120,
]


def fuzzed_lines(count: int, seed: int = 11) -> list[bytes]:
    """Questions, blank and whitespace-only lines, invalid UTF-8, controls and line-separator look-alikes."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        line = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.3:
            line += bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))).replace(b"\n", b"")
        lines.append(line)
    return lines


def check_json_lines(output: bytes, inputs: list[bytes]) -> list[dict]:
    """Exactly one valid UTF-8 JSON object per input line, echoing that line's question, in order."""
    text = output.decode("utf-8")  # strict: raises on any invalid byte
    rows = text.split("\n")
    assert rows[-1] == "", "the output must end with a newline"
    records = [json.loads(row) for row in rows[:-1]]
    assert len(records) == len(inputs), f"{len(records)} JSON lines for {len(inputs)} input lines"
    for number, (record, line) in enumerate(zip(records, inputs, strict=True), 1):
        shown = line.decode("utf-8", errors="replace").removesuffix("\r")
        echoes = (shown, shown[:ECHO_CHARS], clean_question(shown, 500).text)  # a refused one: its start
        assert record["question"] in echoes, f"line {number} out of order"
    return records


def run_ask(args: list[str], stdin: bytes, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "ask", "--json", *args, "-"],
        input=stdin,
        capture_output=True,
        env=environment,
        cwd=REPO,
        timeout=3600,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="launchbot-fuzz-") as tmp:
        knowledge = Path(tmp) / "knowledge"
        shutil.copytree(REPO / "knowledge", knowledge)
        paths = ["--knowledge", str(knowledge), "--index", str(Path(tmp) / "index")]
        inputs = fuzzed_lines(args.lines)
        started = time.perf_counter()
        result = run_ask(paths, b"\n".join(inputs) + b"\n", {"PYTHONIOENCODING": "utf-8:strict"})
        seconds = time.perf_counter() - started
    records = check_json_lines(result.stdout, inputs)
    blank = sum(1 for line in inputs if not line.decode("utf-8", "replace").strip())
    print(
        f"{len(inputs):,} fuzzed lines ({blank:,} blank or whitespace-only) -> {len(records):,} valid UTF-8 JSON "
        f"lines in order, exit {result.returncode}, {sum(r['answered'] for r in records):,} answered, "
        f"{sum(r['problem'] == 'empty' for r in records):,} problem=empty, {seconds:.0f} s"
    )
    return 0 if result.returncode == 0 and len(records) == len(inputs) else 1


if __name__ == "__main__":
    sys.exit(main())
