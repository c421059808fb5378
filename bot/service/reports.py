"""What moderators read: stats with their chart, the questions the articles did not serve (and their
CSV export), and answer-latency percentiles. Platform-neutral: each front end lays the figures out its
own way. (The topics of the unserved questions: ``gaps.py``; the HTML page: ``html_report.py``.)
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.service.charts import DailyCounts, chart_png, daily_counts, period_start
from bot.service.storage import Gap, Stats, Storage

logger = logging.getLogger(__name__)

DAY = 86_400
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def since(days: float, now: float | None = None) -> float:
    """The timestamp ``days`` ago."""
    return (time.time() if now is None else now) - days * DAY


@dataclass(frozen=True)
class StatsReport:
    """``/stats``: the period's figures and the chart of its days (both from midnight UTC of its first day)."""

    days: int
    stats: Stats
    counts: DailyCounts
    chart: bytes  # PNG


def stats_report(
    storage: Storage, platform: str, community: str | None, days: int, *, now: float | None = None, top: int = 5
) -> StatsReport:
    """The figures and the chart of the last ``days`` days (today the last), with the ``top`` most
    asked questions. Reads the database and draws: call it from a worker thread."""
    stats = storage.stats(platform, community, period_start(days, now), top=top)
    counts = daily_counts(storage, platform, community, days, now=now)
    return StatsReport(days, stats, counts, chart_png(counts))


def date_text(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def held_back_text(counts: Mapping[str, int]) -> str:
    """Messages the limits dropped quietly, e.g. "12 (cooldown 10 · busy 2)"; "" when none."""
    total = sum(counts.values())
    if not total:
        return ""
    return f"{total} (" + " · ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) + ")"


def csv_cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: a question must stay text."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def gaps_csv(gaps: Sequence[Gap]) -> bytes:
    """Every unserved question as CSV, UTF-8 with a BOM (so Excel reads it as UTF-8)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "asked_utc", "question", "outcome", "confidence", "thumbs_up", "thumbs_down"])
    for gap in gaps:
        writer.writerow(
            [
                gap.id,
                date_text(gap.created),
                csv_cell(gap.question),
                "answered" if gap.answered else "declined",
                f"{gap.confidence:.3f}",
                gap.up,
                gap.down,
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (the smallest value with at least ``share`` of them at or below it);
    0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(round(share * len(ordered), 9)))  # round: 0.9 * 10 is 9.000000000000002
    return ordered[min(len(ordered), rank) - 1]


def latency_text(values: Sequence[float]) -> str:
    """ "p50 7 ms · p90 12 ms · p99 30 ms (n=120)", or a note that nothing was asked yet."""
    if not values:
        return "no questions yet"
    shown = " · ".join(f"p{int(share * 100)} {percentile(values, share):.0f} ms" for share in (0.5, 0.9, 0.99))
    return f"{shown} (n={len(values)})"
