"""``launchbot gaps`` and ``launchbot report --html``, over a realistic week of questions: the report
opened in a real browser (headless Chromium) renders without errors, its chart decoded, its gaps table
filled; a screenshot is saved in the test's output folder."""

from __future__ import annotations

import asyncio
import json
import re
import shutil

import pytest
import yaml

from bot.cli.main import main
from tests.browser import render
from tests.conftest import WEEK_COMMUNITY


def config_for(tmp_path, settings, database) -> str:
    config = tmp_path / "launchbot.yaml"
    values = {
        "knowledge_dir": str(settings.knowledge_dir),
        "index_dir": str(settings.index_dir),
        "chat": {"database": str(database)},
    }
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    return str(config)


def test_gaps_in_the_terminal_and_as_json(week, tmp_path, capsys):
    generated, database, settings = week
    config = config_for(tmp_path, settings, database)
    assert main(["gaps", "--config", config, "--platform", "discord", "--community", WEEK_COMMUNITY]) == 0
    out = capsys.readouterr().out
    people, before = generated.people("weather"), generated.people("weather", before=True)
    assert f"discord: {WEEK_COMMUNITY}" in out and f"{people} people (+{people - before})" in out
    assert "What was the weather" in out and "member-" not in out

    assert main(["gaps", "--config", config, "--json", "--days", "7"]) == 0  # every platform and community
    report = json.loads(capsys.readouterr().out)
    assert report["topics"][0]["people"] == max(topic["people"] for topic in report["topics"])
    with pytest.raises(SystemExit) as usage:
        main(["gaps", "--config", config, "--days", "0"])
    assert usage.value.code == 2 and "--days takes a whole number from 1 to 3650" in capsys.readouterr().err


def test_the_html_report_opens_in_a_browser_without_errors(week, chromium, tmp_path, capsys, request):
    generated, database, settings = week
    page = tmp_path / "report.html"
    config = config_for(tmp_path, settings, database)
    assert main(["report", "--html", str(page), "--config", config, "--days", "14"]) == 0
    assert f"wrote {page}" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert "member-" not in html  # questions, never who asked
    assert not re.search(r"""(src|href)=["'](?!data:)""", html)  # self-contained: nothing fetched

    screenshot = tmp_path / "report.png"
    rendered = asyncio.run(render(page, screenshot))
    assert rendered.errors == []
    [chart] = rendered.images
    assert chart["complete"] and chart["width"] == 800 and f"{len(generated.questions)} asked" in chart["alt"]
    assert rendered.title == "launchbot report: last 14 days" and "What the articles miss" in rendered.text
    assert rendered.rows == 10 and "What was the weather" in rendered.text
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 20_000
    kept = request.config.rootpath / "data" / "test-output"  # git-ignored: look at it after a run
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, kept / "report.png")
    print(f"screenshot of the report: {kept / 'report.png'}")
