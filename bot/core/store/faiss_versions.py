"""The FAISS index directory and its versions, on disk::

    CURRENT            name of the live version directory (replaced atomically)
    v<time>-<id>/      one complete, immutable index version
    .tmp-<id>/         a build in progress (a crash leaves it behind; the next build removes it)
    .lock              held while a build runs, so two builds never race

Which version is live, the build lock, the atomic swap of ``CURRENT`` (write, fsync, rename), and the
file readers loading and building share. The last ``KEEP_VERSIONS`` versions stay on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import faiss

from bot.core.store.index import HNSW_EF_SEARCH, IndexBusy, IndexCorrupt, version_order

logger = logging.getLogger(__name__)

POINTER = "CURRENT"
KEEP_VERSIONS = 3  # the live one and two before it, for readers that read CURRENT just before a swap


def current_version(index_dir: Path) -> Path | None:
    """The live version directory, or None when no index was ever built here."""
    pointer = index_dir / POINTER
    if pointer.is_dir():
        raise IndexCorrupt(
            f"{pointer} is a directory, not the index pointer. Run `launchbot index --rebuild` (it moves it aside)."
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {pointer}: {exc}. Run `launchbot index --rebuild`.") from None
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} names no valid version ({name!r}). Run `launchbot index --rebuild`.")
    return index_dir / name


def read_faiss(path: Path, mmap: bool = False) -> faiss.Index:
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def read_jsonl(path: Path) -> Iterator:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive across processes and threads: the CLI and a running bot never build at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another reindex of {index_dir} is running; try again when it finishes") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_running(index_dir: Path) -> bool:
    """Whether a build (in any process) holds the lock now; creates nothing."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False


def wait_for_build(index_dir: Path) -> None:
    """Block until no build holds the lock (a shared lock waits for the exclusive one)."""
    try:
        fd = os.open(index_dir / ".lock", os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)


def swap(index_dir: Path, version: Path) -> None:
    """Point CURRENT at ``version`` atomically, then drop versions nobody will load again."""
    pointer_tmp = index_dir / f".{POINTER}.{version.name}"
    with pointer_tmp.open("w", encoding="utf-8") as handle:
        handle.write(version.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    pointer = index_dir / POINTER
    if pointer.is_dir() and not pointer.is_symlink():  # not ours to delete: moved aside, and said so
        aside = index_dir / f".{POINTER}-was-a-directory-{time.time_ns()}"
        os.rename(pointer, aside)
        logger.warning("%s was a directory; moved it aside to %s", pointer, aside)
    os.replace(pointer_tmp, pointer)
    fsync_dir(index_dir)
    versions = sorted((p for p in index_dir.glob("v*") if p.is_dir()), key=version_order)
    for old in versions[:-KEEP_VERSIONS]:
        if old != version:
            shutil.rmtree(old, ignore_errors=True)


def remove_stale_builds(index_dir: Path) -> None:
    """Leftovers of crashed builds; safe because the caller holds the build lock."""
    for leftover in index_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(root)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
