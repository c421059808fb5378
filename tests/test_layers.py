"""The direction of every import. Layers: front ends → service → core, and front ends and the service
reach the core through ``bot.core.engine`` only. Inside the core, rooms on floors: engine → answering
→ store → embed, ingest, never back up and never across a floor. ``bot/config.py`` takes nothing
from the core, and no module of the core is over ``MAX_LINES`` lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import REPO

BOT = REPO / "bot"
CORE = BOT / "core"
LAYERS = {"core": 0, "service": 1, "cli": 2, "discord": 2, "telegram": 2}
ROOMS = {"engine": 3, "answering": 2, "store": 1, "embed": 0, "ingest": 0}
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, source: str | None = None) -> Iterator[str]:
    """Every module ``path`` imports, by its full name: ``from bot.core.store import index`` names
    ``bot.core.store.index``, whether ``index`` is a module or a name in the package."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the file's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)


def room(module: str) -> str | None:
    """``bot.core.<room>…`` -> room; ``bot.core.engine`` -> "engine"; anything else -> None."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["bot", "core"] and len(parts) > 2 else None


def test_imports_go_front_ends_to_service_to_core_never_back():
    """core imports no service or front end (and no chat platform); service imports no front end;
    front ends do not import each other (only the ``launchbot`` command in bot/cli starts them)."""
    problems = []
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(BOT).parts
        layer = parts[0] if len(parts) > 1 else None
        if layer not in LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")
                if top[0] in {"discord", "telegram"} and layer in {"core", "service"}:
                    problems.append(f"{path.name} ({layer}) imports the chat platform {name}")
                inward = top[0] == "bot" and len(top) > 1 and top[1] in LAYERS and top[1] != layer
                if inward and LAYERS[top[1]] >= LAYERS[layer] and parts[0] != "cli":
                    problems.append(f"{path.name} ({layer}) imports {name}")
    assert not problems, problems


def test_the_service_and_front_ends_reach_the_core_through_the_engine_only():
    problems = [
        f"{path.relative_to(REPO)} imports {name}"
        for layer in ("service", "cli", "discord", "telegram")
        for path in sorted((BOT / layer).rglob("*.py"))
        for name in imported(path)
        if name.startswith("bot.core.") and not name.startswith("bot.core.engine.")
    ]
    assert not problems, problems


def room_problems(path: Path, source: str | None = None) -> list[str]:
    """What is wrong with the imports of the core module at ``path`` (its text: ``source``)."""
    here, shown = room(module_name(path)), path.relative_to(REPO)
    if here not in ROOMS:
        return [f"{shown} is in no room of the core ({', '.join(ROOMS)})"]
    problems = []
    for name in imported(path, source):
        there = room(name)
        if name.startswith("bot.") and not name.startswith(("bot.core.", "bot.config.")):
            problems.append(f"{shown} ({here}) imports {name}, outside the core")
        elif there is not None and there != here and (there not in ROOMS or ROOMS[there] >= ROOMS[here]):
            problems.append(f"{shown} ({here}) imports {name} ({there})")
    return problems


def test_the_core_imports_down_its_rooms_only():
    """engine → answering → store → embed, ingest: a room imports its own modules and the floors
    below; embed and ingest, on the bottom floor, import neither each other nor anything above."""
    problems = [p for path in sorted(CORE.rglob("*.py")) if path != CORE / "__init__.py" for p in room_problems(path)]
    assert not problems, problems


def test_the_room_check_catches_imports_up_and_across_in_every_form():
    store, embed = CORE / "store" / "new.py", CORE / "embed" / "new.py"
    assert room_problems(store, "from bot.core.store.index import KnowledgeIndex\nimport bot.core.embed.e5\n") == []
    for wrong in (
        "from bot.core.answering.pipeline import answer_question\n",
        "from bot.core.answering import compose\n",
        "import bot.core.engine\n",
        "from ..answering import compose\n",
        "from bot.service import runtime\n",
    ):
        assert len(room_problems(store, wrong)) == 1, wrong
    assert len(room_problems(embed, "from bot.core.ingest.lexical import tokenize\n")) == 1  # across a floor
    assert room_problems(CORE / "helpers.py", "") != []  # a module beside engine.py belongs to no room


def test_config_takes_nothing_from_the_core():
    assert not [name for name in imported(BOT / "config.py") if name.startswith("bot.")]


def test_no_module_of_the_core_is_over_the_line_limit():
    long = {
        str(path.relative_to(REPO)): lines
        for path in sorted(CORE.rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines (split along a real seam): {long}"
