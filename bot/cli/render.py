"""Plain-text rendering of an ``Answer`` for the terminal (and any front end without rich embeds)."""

from __future__ import annotations

import textwrap

from bot.core.answer import Answer
from bot.service.text import source_label


def render_text(answer: Answer, width: int = 100) -> str:
    if answer.problem:
        return answer.text
    lines = [answer.text]
    if answer.sources:
        lines.append("\nSources:")
        for source in answer.sources:
            lines.append(f"[{source.number}] {source_label(source)}")
            lines.append(textwrap.indent(textwrap.fill(f"“{source.quote}”", width - 4), "    "))
    elif answer.closest is not None:
        lines.append("\nClosest passage (not an answer), from " + source_label(answer.closest) + ":")
        lines.append(textwrap.indent(textwrap.fill(f"“{answer.closest.quote}”", width - 4), "    "))
    return "\n".join(lines)
