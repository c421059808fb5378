"""Plain-text rendering of an ``Answer`` for the terminal (and any front end without rich embeds)."""

from __future__ import annotations

import textwrap

from bot.core.engine import DETAILS, DETAILS_LABEL, Answer
from bot.service.text import source_label


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
