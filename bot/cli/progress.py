"""Progress of an index build on the terminal: a tqdm bar when stderr is a terminal, otherwise (a
log file, CI, ``2>&1 | tee``) one plain line every few seconds, so long work is never silent.

The core reports a ``BuildProgress`` (documents, chunks, sentences, texts to embed and embedded so
far) to whatever callable it is given; this module only shows it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

LINE_EVERY_SECONDS = 5.0
QUIET_SECONDS = 2.0  # work shorter than this shows no progress at all


def describe(status: Any) -> str:
    """What is being indexed, e.g. "3 documents: 3,379 chunks + 12,180 sentences"."""
    return f"{status.documents:,} document(s): {status.chunks:,} chunks + {status.sentences:,} sentences"


def remaining(seconds: float) -> str:
    if seconds < 60:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressLines:
    """A line every ``every`` seconds, the first once the work has taken ``delay`` seconds (a small
    update says nothing), and a last one when embedding ends: counts, share done and time left."""

    def __init__(
        self,
        stream: TextIO | None = None,
        every: float = LINE_EVERY_SECONDS,
        delay: float = QUIET_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self.delay = delay
        self.clock = clock
        self.started: float | None = None
        self.last: float | None = None

    def __call__(self, status: Any) -> None:
        now = self.clock()
        if self.started is None:
            self.started = now
        finished = status.embedded >= status.texts
        if self.last is None and (finished or now - self.started < self.delay):
            return
        if self.last is not None and now - self.last < self.every and not finished:
            return
        self.last = now
        share = status.embedded / status.texts if status.texts else 1.0
        elapsed = now - self.started
        left = f", about {remaining(elapsed / share - elapsed)} left" if 0 < share < 1 else ""
        print(
            f"indexing {describe(status)}: embedded {status.embedded:,} of {status.texts:,} texts ({share:.0%}){left}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        pass


class ProgressBar:
    """tqdm's bar over the texts to embed; its description names documents and chunks, and tqdm
    shows the rate and the time left."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar = None

    def __call__(self, status: Any) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=status.texts,
                desc=f"indexing {describe(status)}",
                unit="text",
                file=self.stream,
                delay=QUIET_SECONDS,
            )
        self.bar.update(status.embedded - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def build_progress(stream: TextIO | None = None) -> ProgressBar | ProgressLines:
    """A bar on a terminal, lines elsewhere."""
    stream = stream or sys.stderr
    return ProgressBar(stream) if stream.isatty() else ProgressLines(stream, LINE_EVERY_SECONDS, QUIET_SECONDS)
