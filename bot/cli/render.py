"""Plain text for the terminal: an ``Answer`` (and any front end without rich embeds), the gaps report."""

from __future__ import annotations

import textwrap

from bot.core.engine import DETAILS, DETAILS_LABEL, Answer
from bot.service.gaps import GapReport, closest_heading
from bot.service.text import cut, source_label


def render_text(answer: Answer, width: int = 100) -> str:
    if answer.problem:
        return answer.text
    lines = [DETAILS_LABEL + " " + answer.text] if answer.basis == DETAILS and answer.answered else [answer.text]
    if answer.sources:
        lines.append("\nSources:")
        for source in answer.sources:
            kind = f" ({source.kind})" if source.kind != "text" else ""
            lines.append(f"[{source.number}] {source_label(source)}{kind}")
            lines.append(textwrap.indent(textwrap.fill(f"“{source.quote}”", width - 4), "    "))
    elif answer.closest is not None:
        lines.append("\nClosest passage (not an answer), from " + source_label(answer.closest) + ":")
        lines.append(textwrap.indent(textwrap.fill(f"“{answer.closest.quote}”", width - 4), "    "))
    return "\n".join(lines)


def render_gaps(report: GapReport, where: str, width: int = 100) -> str:
    """``launchbot gaps``: the topics, most people first, each with its examples and closest passage."""
    period = f"Last {report.days:g} day(s), {where}"
    if not report.topics:
        return f"{period}: nothing declined or voted down."
    kind = "topics" if report.grouped else "questions (too few to group into topics)"
    lines = [
        f"{period}: {report.questions} question(s) declined or voted down, from {report.people} people. "
        f"Top {len(report.topics)} {kind}, most people first (trend: against the {report.days:g} days before):"
    ]
    for number, topic in enumerate(report.topics, start=1):
        counts = f"{topic.people} people ({topic.trend}), {topic.questions} question(s)"
        lines.append(f"\n{number:2d}. {counts}: {topic.question}")
        for example in topic.examples[1:]:
            lines.append(f"      also: {cut(example, width)}")
        heading = closest_heading(topic)
        if topic.closest is None:
            lines.append(f"      {heading}")
        else:
            lines.append(f"      {heading} {cut(source_label(topic.closest), width)}:")
            lines.append(textwrap.indent(textwrap.fill(f"“{cut(topic.closest.quote, 300)}”", width - 8), " " * 8))
    if report.more:
        lines.append(f"\n…and {report.more} more topic(s).")
    return "\n".join(lines)
