"""Pictures where people look rather than read: questions per day, answered and declined, 👍 and 👎.

Counts come from the state database (``Storage.activity``), one bar per UTC day, each question counted
on the day it was asked and its votes with it. The chart is drawn with matplotlib's Agg backend (no
display needed, no pyplot state) into a PNG, which also carries the counts it shows as text (``COUNTS_KEY``), so what
the picture says can be read back without reading pixels. No question text and no member is drawn.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.service.storage import Storage

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

COUNTS_KEY = "launchbot:counts"  # the PNG text chunk holding the counts as JSON
ANSWERED, DECLINED, UP_COLOUR, DOWN_COLOUR = "#5865f2", "#b5bac1", "#2e9e5b", "#d9534f"
MAX_DAY_LABELS = 8


@dataclass(frozen=True)
class DailyCounts:
    """Per UTC day, oldest first: ``days`` as ISO dates and the counts of each."""

    days: list[str]
    answered: list[int]
    declined: list[int]
    up: list[int]
    down: list[int]

    @property
    def asked(self) -> list[int]:
        return [a + d for a, d in zip(self.answered, self.declined, strict=True)]

    def to_json(self) -> dict:
        return asdict(self)


def period_start(days: int, now: float | None = None) -> float:
    """When a report of the last ``days`` days begins: midnight UTC of the first of them (today
    being the last), so a report's figures and its chart's bars count the same questions."""
    today = datetime.fromtimestamp(time.time() if now is None else now, UTC).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()


def daily_counts(
    storage: Storage, platform: str, community: str | None, days: int, *, now: float | None = None
) -> DailyCounts:
    """The last ``days`` UTC days up to today's, every day present (0 when nothing was asked)."""
    start = period_start(days, now)
    first = datetime.fromtimestamp(start, UTC).date()
    dates = [first + timedelta(days=n) for n in range(days)]
    position = {date: n for n, date in enumerate(dates)}
    answered, declined, up, down = ([0] * days for _ in range(4))
    for row in storage.activity(platform, community, start):
        n = position.get(datetime.fromtimestamp(row.created, UTC).date())
        if n is None:  # asked after ``now`` (a clock ahead): not in this picture
            continue
        (answered if row.answered else declined)[n] += 1
        up[n] += row.up
        down[n] += row.down
    return DailyCounts([date.isoformat() for date in dates], answered, declined, up, down)


def chart_png(counts: DailyCounts, title: str = "Questions per day") -> bytes:
    """The chart as PNG bytes: stacked bars of answered and declined questions, and 👍 / 👎 lines."""
    buffer = io.BytesIO()
    chart_figure(counts, title).savefig(
        buffer, format="png", dpi=100, metadata={COUNTS_KEY: json.dumps(counts.to_json())}
    )
    return buffer.getvalue()


def chart_figure(counts: DailyCounts, title: str = "Questions per day") -> Figure:
    """The figure, on its own Agg canvas: no pyplot and no global state, so threads can draw at once.
    matplotlib is imported here, when a chart is first drawn (it takes about a second)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(counts.days)
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(n))
    handles = [
        axes.bar(positions, counts.answered, color=ANSWERED, label="answered"),
        axes.bar(positions, counts.declined, bottom=counts.answered, color=DECLINED, label="declined"),
        *axes.plot(positions, counts.up, color=UP_COLOUR, marker="o", linewidth=2, label="voted up"),
        *axes.plot(positions, counts.down, color=DOWN_COLOUR, marker="v", linewidth=2, label="voted down"),
    ]
    step = math.ceil(n / MAX_DAY_LABELS)
    axes.set_xticks(positions[::step], [_short(day) for day in counts.days[::step]])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0, top=max([1, *counts.asked, *counts.up, *counts.down]) * 1.2)
    axes.set_title(f"{title}: {sum(counts.asked)} asked, {sum(counts.answered)} answered", loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(handles=handles, loc="upper left", ncols=4, frameon=False, fontsize="small")
    return figure


def _short(day: str) -> str:
    """ "2026-11-20" → "20 Nov"."""
    return datetime.fromisoformat(day).strftime("%d %b").lstrip("0")
