"""The table on the terminal, the JSON file in benchmarks/out/, and benchmarks/RESULTS.md."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from benchmarks.common import OUT, REPO, Figure, Results

logger = logging.getLogger(__name__)

RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"
HEADER = ("section", "figure", "value", "floor", "ratio", "goal", "met")


def rows(results: Results) -> list[tuple[str, ...]]:
    return [
        (
            f.section,
            f.name,
            _number(f.value, f.unit),
            f"{_number(f.floor, f.unit)} ({f.floor_name})",
            f"{f.ratio:.3f}",
            f.goal or "-",
            _met(f),
        )
        for f in results.figures
    ]


def table(results: Results) -> str:
    lines = [HEADER, *rows(results)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def markdown(results: Results) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows(results)]
    notes = [f"- {f.section} / {f.name}: {f.note}" for f in results.figures if f.note]
    return "\n".join(lines) + "\n\nNotes:\n\n" + "\n".join(notes) + "\n"


def write_json(results: Results, command: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    payload = {"command": command, **results.facts, "figures": [f.to_json() for f in results.figures]}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    (OUT / "latest.json").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def write_results_md(results: Results, command: str, path: Path = RESULTS_MD) -> None:
    machine = results.facts.get("machine", {})
    facts = {key: value for key, value in results.facts.items() if key != "machine"}
    text = (
        "# Benchmark results\n\n"
        "Written by `python -m benchmarks` (`make bench`); do not edit by hand. Every figure is a ratio "
        "against a floor measured in the same run, because absolute timings on this shared 2-core machine "
        "move with its load. See `benchmarks/README.md` for what each figure means.\n\n"
        f"Command: `{command}`  \nRun: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  \n"
        f"Machine: {json.dumps(machine, default=str)}  \n"
        f"Run facts: {json.dumps(facts, default=str)}\n\n" + markdown(results)
    )
    path.write_text(text, encoding="utf-8")


def _number(value: float, unit: str) -> str:
    if unit == "":
        return f"{value:.3f}"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def _met(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]
