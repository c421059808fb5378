"""The knowledge base: documents on disk, loaded with their metadata and verbatim text.

A document is a ``.md`` or ``.txt`` file, optionally opening with YAML front matter (``title``,
``language``, ``publisher``, ``author``, ``published``, ``url``). The text after the front matter is
kept byte for byte, because every quote the bot shows is a slice of it.

A file that cannot be loaded is reported with its path and reason and skipped; the rest still load.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import regex
import yaml

logger = logging.getLogger(__name__)

SUFFIXES = (".md", ".markdown", ".txt")
NOT_DOCUMENTS = {
    "readme.md",
    "aliases.yaml",
}  # files about the knowledge base, not in it (aliases: bot/core/aliases.py)
METADATA_FIELDS = ("title", "language", "publisher", "author", "published", "url")
_DEVANAGARI = regex.compile(r"\p{Devanagari}")
_LETTER = regex.compile(r"\p{L}")


@dataclass(frozen=True)
class Document:
    """One loaded document. ``doc_id`` is its path relative to the knowledge directory, sans suffix."""

    doc_id: str
    path: str
    title: str
    text: str
    sha256: str
    language: str = "und"
    publisher: str | None = None
    author: str | None = None
    published: str | None = None
    url: str | None = None

    def metadata(self) -> dict[str, str | None]:
        return {key: value for key, value in asdict(self).items() if key != "text"}


@dataclass(frozen=True)
class LoadError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class LoadResult:
    documents: list[Document]
    errors: list[LoadError]


class DocumentError(ValueError):
    """Raised by ``parse_document`` with a reason a maintainer can act on."""


def load_documents(directory: Path, max_bytes: int = 2_000_000) -> LoadResult:
    """Load every document below ``directory``; broken files become ``LoadError``s, never exceptions."""
    if not directory.is_dir():
        raise FileNotFoundError(f"knowledge directory not found: {directory}")
    documents: list[Document] = []
    errors: list[LoadError] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or path.name.lower() in NOT_DOCUMENTS:
            continue
        if path.suffix.lower() not in SUFFIXES:
            errors.append(LoadError(str(path), f"unsupported file type {path.suffix or '(none)'!r}"))
            continue
        try:
            documents.append(read_document(path, relative.with_suffix("").as_posix(), max_bytes))
        except (DocumentError, OSError) as exc:
            errors.append(LoadError(str(path), str(exc)))
    for error in errors:
        logger.warning("skipped document %s", error)
    return LoadResult(documents, errors)


def read_document(path: Path, doc_id: str, max_bytes: int) -> Document:
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"too large: {size:,} bytes, the limit is {max_bytes:,}")
    return parse_document(path.read_bytes(), doc_id=doc_id, path=str(path), markdown=path.suffix != ".txt")


def parse_document(raw: bytes, *, doc_id: str, path: str, markdown: bool = True) -> Document:
    """Parse one file's bytes. Raises ``DocumentError`` saying what is wrong."""
    if b"\x00" in raw:
        raise DocumentError("binary file (contains NUL bytes)")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 (invalid byte at offset {exc.start})") from None
    content = content.removeprefix("\ufeff")
    meta, text = split_front_matter(content)
    if not text.strip():
        raise DocumentError("empty document (no text after the front matter)")
    title = meta.get("title") or _first_line(text, markdown)
    return Document(
        doc_id=doc_id,
        path=path,
        title=title,
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        language=meta.get("language") or guess_language(text),
        publisher=meta.get("publisher"),
        author=meta.get("author"),
        published=meta.get("published"),
        url=meta.get("url"),
    )


def split_front_matter(content: str) -> tuple[dict[str, str], str]:
    """Return (metadata, body). Without a leading ``---`` line the whole file is the body."""
    if not content.startswith("---\n") and not content.startswith("---\r\n"):
        return {}, content
    first_newline = content.index("\n") + 1
    end = _closing_fence(content, first_newline)
    if end is None:
        raise DocumentError("front matter is not closed (no second '---' line)")
    fence_end = content.find("\n", end)
    body = "" if fence_end == -1 else content[fence_end + 1 :]
    try:
        meta = yaml.safe_load(content[first_newline:end])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise DocumentError(f"invalid YAML front matter{where}: {getattr(exc, 'problem', exc)}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError("front matter must be a mapping of fields such as 'title: ...'")
    return _clean_metadata(meta), body


def _closing_fence(content: str, start: int) -> int | None:
    position = start
    while position < len(content):
        line_end = content.find("\n", position)
        line = content[position : line_end if line_end != -1 else len(content)]
        if line.rstrip("\r") == "---":
            return position
        if line_end == -1:
            return None
        position = line_end + 1
    return None


def _clean_metadata(meta: dict) -> dict[str, str]:
    unknown = sorted(str(key) for key in meta if key not in METADATA_FIELDS)
    if unknown:
        logger.info("ignoring unknown front matter fields: %s", ", ".join(unknown))
    cleaned: dict[str, str] = {}
    for key in METADATA_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, dict | list):
            raise DocumentError(f"front matter field {key!r} must be text, not a {type(value).__name__}")
        cleaned[key] = str(value).strip()
    return cleaned


def _first_line(text: str, markdown: bool) -> str:
    line = next(line for line in text.splitlines() if line.strip()).strip()
    if markdown:
        line = line.lstrip("#").strip() or line
    return line[:200]


def guess_language(text: str) -> str:
    """A script-level guess for files without ``language``: enough to route lexical vs dense weight."""
    letters = len(_LETTER.findall(text[:5000]))
    if letters and len(_DEVANAGARI.findall(text[:5000])) / letters > 0.3:
        return "hi"
    return "und"
