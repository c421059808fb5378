"""Logging: every line stamped in UTC, as text or as one JSON object per line, with the bot tokens
kept out of every line; INFO by default for long-running front ends.

A token can reach a log in a message, an argument, a traceback, or a URL (the Bot API puts the
Telegram token in every request URL, which HTTP client libraries log), so the redaction runs on
the handlers, where every record ends up, not on one logger. The JSON lines carry what a log
pipeline filters on: a question's id, platform, outcome and latency where the line is about one
(passed as ``extra=`` by the asking flow), so no one has to parse the message.
"""

from __future__ import annotations

import json
import logging
import os
import time
import traceback

logger = logging.getLogger(__name__)

FORMATS = ("text", "json")
# Fields a record may carry (``logger.info(..., extra={...})``) that the JSON lines include.
FIELDS = ("question_id", "platform", "outcome", "latency_ms", "engine_ms", "community", "reason")


class UTCFormatter(logging.Formatter):
    """``2026-11-23T10:20:48.123Z INFO bot.core.engine: serving index …``"""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"


class JSONFormatter(UTCFormatter):
    """One JSON object per line: time, level, logger, message, the question's fields, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def log_format(given: str | None = None) -> str:
    """``--log-format``, else ``LAUNCHBOT_LOG_FORMAT``, else text; an unknown name is a ValueError."""
    chosen = (given or os.environ.get("LAUNCHBOT_LOG_FORMAT") or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"LAUNCHBOT_LOG_FORMAT = {chosen!r}: must be one of {', '.join(FORMATS)}")
    return chosen


def configure_logging(level: int, fmt: str = "text") -> None:
    """One handler on stderr for the whole process, in the chosen format."""
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


def use_format(fmt: str) -> None:
    """Switch the root handlers to ``fmt`` (LAUNCHBOT_LOG_FORMAT found in ``.env``, read after logging began)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, UTCFormatter):
            handler.setFormatter(_formatter(fmt))


def _formatter(fmt: str) -> logging.Formatter:
    return JSONFormatter() if fmt == "json" else UTCFormatter()


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
