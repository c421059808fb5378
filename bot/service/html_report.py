"""``launchbot report --html FILE``: one self-contained page for maintainers who don't live in chat.

The page holds the period's counts, the questions-per-day chart (a PNG inlined as base64), the gaps
table (topics, people, trend, examples, the closest passage) and the most asked questions. Nothing
is fetched: no script, no font, no stylesheet or image from elsewhere (its Content-Security-Policy
forbids them), so it opens the same from a mail attachment or a file share. Every piece of member and
article text is escaped. Who asked is never on it.
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.service.charts import DailyCounts
from bot.service.gaps import GapReport, Topic, closest_heading
from bot.service.storage import Stats
from bot.service.text import cut, source_label, visible

logger = logging.getLogger(__name__)

POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.muted { color: #656d76; } .tiles { display: flex; flex-wrap: wrap; gap: 0.75rem; margin: 1rem 0; }
.tile { border: 1px solid #d0d7de; border-radius: 8px; padding: 0.5rem 1rem; min-width: 7rem; }
.tile b { display: block; font-size: 1.4rem; } img { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: 0.5rem; }
th { border-bottom: 2px solid #d0d7de; } td { border-bottom: 1px solid #eaeef2; }
td.n { text-align: right; white-space: nowrap; } ul { margin: 0; padding-left: 1.1rem; }
blockquote { margin: 0; padding-left: 0.6rem; border-left: 3px solid #d0d7de; }
.up { color: #1a7f37; } .down { color: #cf222e; }
"""


@dataclass(frozen=True)
class ReportData:
    """What the page shows; ``scope`` says whose questions (e.g. "every community")."""

    days: int
    scope: str
    stats: Stats
    counts: DailyCounts
    chart: bytes  # PNG
    gaps: GapReport
    retention_days: int
    generated: float


def e(text: object) -> str:
    """Member or article text as HTML text: escaped, without invisible characters."""
    return html.escape(visible(str(text)), quote=True)


def render(data: ReportData) -> str:
    """The whole page."""
    stats = data.stats
    rate = f"{stats.answered / stats.asked:.0%}" if stats.asked else "—"
    tiles = [
        ("asked", stats.asked),
        ("answered", stats.answered),
        ("declined", stats.declined),
        ("answer rate", rate),
        ("voted up", stats.up),
        ("voted down", stats.down),
    ]
    when = datetime.fromtimestamp(data.generated, UTC).strftime("%Y-%m-%d %H:%M UTC")
    chart = base64.b64encode(data.chart).decode("ascii")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>launchbot report: last {data.days} days</title><style>{STYLE}</style></head><body>",
        f"<h1>launchbot report: last {data.days} day(s)</h1>",
        f'<p class="muted">{e(data.scope)} · generated {when}</p>',
        '<div class="tiles">' + "".join(f'<div class="tile"><b>{e(v)}</b>{e(k)}</div>' for k, v in tiles) + "</div>",
        f'<img alt="{e(_chart_alt(data.counts))}" src="data:image/png;base64,{chart}" width="800" height="360">',
        _gaps_section(data.gaps),
        _top_section(stats),
        f'<p class="muted">Questions are shown, never who asked. Questions and votes are deleted after '
        f"{data.retention_days} days (state.retention_days); members can remove theirs with /forget.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _chart_alt(counts: DailyCounts) -> str:
    return (
        f"Questions per day: {sum(counts.asked)} asked, {sum(counts.answered)} answered, "
        f"{sum(counts.declined)} declined, {sum(counts.up)} voted up, {sum(counts.down)} voted down"
    )


def _gaps_section(report: GapReport) -> str:
    heading = "<h2>What the articles miss</h2>"
    if not report.topics:
        return heading + '<p class="muted">Nothing declined or voted down in this period.</p>'
    kind = "topics, grouped by meaning" if report.grouped else "questions (too few to group into topics)"
    intro = (
        f'<p class="muted">{report.questions} question(s) from {report.people} people were declined or '
        f"voted down; the top {len(report.topics)} {kind}, most people first. Trend: people who asked, "
        f"against the {report.days:g} days before.</p>"
    )
    rows = "".join(_gap_row(number, topic) for number, topic in enumerate(report.topics, start=1))
    more = f'<p class="muted">…and {report.more} more.</p>' if report.more else ""
    return (
        heading
        + intro
        + "<table><thead><tr><th>#</th><th>Topic</th><th>People</th><th>Trend</th><th>Questions</th>"
        + f"<th>Closest passage in the articles</th></tr></thead><tbody>{rows}</tbody></table>{more}"
    )


def _gap_row(number: int, topic: Topic) -> str:
    examples = "".join(f'<li dir="auto">{e(cut(q, 300))}</li>' for q in topic.examples)
    trend_class = "up" if topic.trend.startswith("+") or topic.trend == "new" else "down" if "−" in topic.trend else ""
    return (
        f'<tr><td class="n">{number}</td><td><ul>{examples}</ul></td><td class="n">{topic.people}</td>'
        f'<td class="n {trend_class}">{e(topic.trend)}</td><td class="n">{topic.questions}</td>'
        f"<td>{_closest(topic)}</td></tr>"
    )


def _closest(topic: Topic) -> str:
    heading = e(closest_heading(topic))
    if topic.closest is None:
        return f'<span class="muted">{heading}</span>'
    label = e(cut(source_label(topic.closest), 200))
    quote = f'<blockquote dir="auto">“{e(cut(topic.closest.quote, 400))}”</blockquote>'
    return f"{heading} {label}:{quote}"


def _top_section(stats: Stats) -> str:
    if not stats.top:
        return ""
    items = "".join(f'<li dir="auto">{n}× {e(cut(q, 300))}</li>' for q, n in stats.top)
    return f"<h2>Most asked</h2><ul>{items}</ul>"
