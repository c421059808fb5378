"""The questions-per-day chart: a valid PNG whose counts are the database's, day by day. The counts are
read back from the data the chart was drawn from (its bars and lines, and the copy the PNG carries),
never from its pixels."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
from PIL import Image

from bot.service.charts import COUNTS_KEY, chart_figure, chart_png, daily_counts, period_start
from bot.service.reports import DAY, stats_report
from bot.service.storage import DOWN, UP, Origin, SQLiteStorage

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC).timestamp()  # a Friday afternoon


def test_the_chart_is_a_png_with_each_days_counts(tmp_path):
    storage = SQLiteStorage(tmp_path / "state.sqlite3")
    group = Origin("telegram", "-100", "-100", "1")
    # days ago -> (answered, declined, votes up, votes down): what the chart must show
    plan = {6: (2, 1, 1, 0), 4: (0, 3, 0, 0), 1: (5, 0, 2, 3), 0: (1, 1, 0, 1)}
    for days_ago, (answered, declined, up, down) in plan.items():
        day = NOW - days_ago * DAY
        ids = [
            storage.record_question(group, question=f"q{n}", answered=n < answered, created=day - n * 60)
            for n in range(answered + declined)
        ]
        voters = iter(range(1000))
        for vote, count in ((UP, up), (DOWN, down)):
            for _ in range(count):
                storage.vote(ids[0], str(next(voters)), vote)
    storage.record_question(group, question="too old", answered=True, created=NOW - 7 * DAY)
    storage.record_question(Origin("telegram", "-200", "-200", "1"), question="another group", answered=True)
    storage.record_question(group, question="never delivered", answered=True, created=NOW, delivered=False)

    counts = daily_counts(storage, "telegram", "-100", 7, now=NOW)
    assert counts.days == [f"2026-11-{day}" for day in range(14, 21)]
    expected = {6 - n: plan.get(6 - n, (0, 0, 0, 0)) for n in range(7)}
    assert counts.answered == [expected[6 - n][0] for n in range(7)]
    assert counts.declined == [expected[6 - n][1] for n in range(7)]
    assert counts.up == [expected[6 - n][2] for n in range(7)] and counts.down == [expected[6 - n][3] for n in range(7)]

    png = chart_png(counts)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()  # every chunk and checksum
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (800, 360)
    assert json.loads(image.text[COUNTS_KEY]) == counts.to_json()
    pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # something was drawn

    figure = chart_figure(counts)
    axes = figure.axes[0]
    answered_bars, declined_bars = axes.containers
    assert [bar.get_height() for bar in answered_bars] == counts.answered
    assert [bar.get_height() for bar in declined_bars] == counts.declined
    assert [bar.get_y() for bar in declined_bars] == counts.answered  # stacked on the answered ones
    up_line, down_line = axes.get_lines()
    assert list(up_line.get_ydata()) == counts.up and list(down_line.get_ydata()) == counts.down

    report = stats_report(storage, "telegram", "-100", 7, now=NOW)
    assert report.stats.asked == sum(counts.asked) == 13  # the figures and the bars count the same questions
    assert json.loads(Image.open(io.BytesIO(report.chart)).text[COUNTS_KEY]) == counts.to_json()
    storage.close()


def test_a_period_starts_at_midnight_utc_of_its_first_day():
    assert period_start(1, NOW) == datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    assert period_start(7, NOW) == datetime(2026, 11, 14, tzinfo=UTC).timestamp()
