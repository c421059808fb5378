"""Logging for long-running front ends: INFO by default, and the bot tokens kept out of every line.

A token can reach a log in a message, an argument, a traceback, or a URL (the Bot API puts the
Telegram token in every request URL, which HTTP client libraries log), so the redaction runs on
the handlers, where every record ends up, not on one logger.
"""

from __future__ import annotations

import logging
import traceback

logger = logging.getLogger(__name__)


class RedactingFilter(logging.Filter):
    """Replaces the secret in every record a handler emits: message, arguments and traceback."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "[redacted]"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, "[redacted]")
        if record.stack_info and self.secret in record.stack_info:
            record.stack_info = record.stack_info.replace(self.secret, "[redacted]")
        return True


def install_redaction(secret: str, *handlers: logging.Handler) -> None:
    """Redact ``secret`` on the given handlers (default: the root logger's, creating one if none).

    On handlers, not loggers: a logger's filters do not see records propagated from its children.
    """
    root = logging.getLogger()
    if not handlers:
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
        handlers = tuple(root.handlers)
    for handler in handlers:
        handler.addFilter(RedactingFilter(secret))


def verbose_logging() -> None:
    """INFO for a serving bot (the CLI's default is WARNING); the HTTP client's per-request lines stay
    off: one per Bot API call, each carrying the Telegram token in its URL."""
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
