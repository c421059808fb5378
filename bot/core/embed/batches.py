"""Progress of bulk encoding: a build hands the embedder a callable, and each backend calls it with
the number of texts encoded so far as its batches finish (the front end draws the bar or the lines)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[int], None]  # texts encoded so far
T = TypeVar("T")


def counted(results: Iterable[T], sizes: Iterable[int], progress: Progress | None) -> Iterator[T]:
    """``results`` as they come, telling ``progress`` the running count of texts (``sizes`` per result)."""
    done = 0
    for result, size in zip(results, sizes, strict=True):
        done += size
        if progress is not None:
            progress(done)
        yield result
