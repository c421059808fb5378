"""The knowledge base: documents on disk, loaded with their metadata and verbatim text.

A document is a ``.md`` or ``.txt`` file, optionally opening with YAML front matter (``title``,
``language``, ``publisher``, ``author``, ``published`` or ``date``, ``url``; and, written by
``launchbot add``, its provenance: ``added``, ``updated``, ``via`` (file, link or feed), ``feed``,
``source`` and ``text_sha256``). The text after the front matter is kept byte for byte, because
every quote the bot shows is a slice of it. ``kind: note`` marks a moderator's note (``notes.py``),
which also lists the ``questions`` it answers.

A file that cannot be loaded is reported with its path and reason and skipped; the rest still load.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import logging
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import regex
import yaml

from bot.config import MAX_DOCUMENT_BYTES

logger = logging.getLogger(__name__)

SUFFIXES = (".md", ".markdown", ".txt")
NOT_DOCUMENTS = {
    "readme.md",
    "aliases.yaml",
    "feeds.yaml",
}  # files about the knowledge base, not in it (aliases: answering/aliases.py, feeds: ingest/feeds.py)
ARTICLE_FIELDS = ("title", "language", "publisher", "author", "published", "date", "url", "kind")
PROVENANCE_FIELDS = ("added", "updated", "via", "feed", "source", "text_sha256")  # written by `launchbot add`
METADATA_FIELDS = ARTICLE_FIELDS + PROVENANCE_FIELDS
ARTICLE, NOTE = "article", "note"  # a document's kind
MAX_QUESTIONS = 20  # a note's ``questions``
# What a field may show: a 10,000-character title would fill a screen in `sources` and every answer.
MAX_FIELD_CHARS = {"url": 2000, "source": 2000}
DEFAULT_MAX_FIELD_CHARS = 200
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
    added: str | None = None  # when `launchbot add` wrote it (UTC, ISO 8601)
    updated: str | None = None  # when it last replaced it with a changed text
    via: str | None = None  # how it came in: file, link or feed (None: written by hand)
    feed: str | None = None  # the feed's name, for articles from a feed
    source: str | None = None  # what was given: the link, or the file's path
    text_sha256: str | None = None  # SHA-256 of the text, whitespace folded: the same article once
    kind: str = ARTICLE
    questions: tuple[str, ...] = ()  # a note's: the questions it answers

    def __post_init__(self) -> None:
        object.__setattr__(self, "questions", tuple(self.questions))  # a list when read back from an index

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


def load_documents(directory: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> LoadResult:
    """Load every document below ``directory``; broken files become ``LoadError``s, never exceptions.

    Nothing is logged above INFO here: the caller reports the errors once (``launchbot index``,
    ``sources``), and the freshness checks that load the documents again stay quiet."""
    if not directory.is_dir():
        raise FileNotFoundError(f"knowledge directory not found: {directory}")
    documents: list[Document] = []
    errors: list[LoadError] = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or path.name.lower() in NOT_DOCUMENTS:
            continue
        try:
            if not _is_document_file(path):
                continue
            if not _is_utf8(str(relative)):
                raise DocumentError("file name is not valid UTF-8: rename it")
            if path.suffix.lower() not in SUFFIXES:
                raise DocumentError(f"unsupported file type {path.suffix or '(none)'!r}")
            documents.append(read_document(path, relative.with_suffix("").as_posix(), max_bytes))
        except (DocumentError, OSError) as exc:
            errors.append(LoadError(printable_path(path), str(exc)))
    for error in errors:
        logger.info("skipped document %s", error)
    return LoadResult(documents, errors)


def _is_document_file(path: Path) -> bool:
    """True for a regular file (or a link to one), False for a directory; raises DocumentError for
    what looks like a document but cannot be read: a symlink loop, a broken link, a device."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DocumentError("symlink loop: the link points back at itself") from None
        if path.is_symlink():
            raise DocumentError(f"broken symlink: {printable_path(Path(os.readlink(path)))} does not exist") from None
        raise
    if stat.S_ISDIR(mode):
        return False
    if not stat.S_ISREG(mode):
        raise DocumentError("not a regular file (a device, socket or pipe)")
    return True


def _is_utf8(name: str) -> bool:
    """A file name with bytes that are not UTF-8 arrives as lone surrogates (PEP 383)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_path(path: Path) -> str:
    """The path as text that can be printed and stored: undecodable bytes shown as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_document(path: Path, doc_id: str, max_bytes: int) -> Document:
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"too large: {size:,} bytes, the limit is {max_bytes:,} (max_document_bytes)")
    return parse_document(path.read_bytes(), doc_id=doc_id, path=str(path), markdown=path.suffix != ".txt")


def parse_document(raw: bytes, *, doc_id: str, path: str, markdown: bool = True) -> Document:
    """Parse one file's bytes. Raises ``DocumentError`` saying what is wrong."""
    content = decode_text(raw)
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
        published=meta.get("published") or meta.get("date"),
        url=meta.get("url"),
        **{key: meta.get(key) for key in PROVENANCE_FIELDS},
        kind=meta.get("kind", ARTICLE),
        questions=meta.get("questions", ()),
    )


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(raw: bytes) -> str:
    """UTF-8 (with or without a BOM), or UTF-16/32 with a BOM, as editors on Windows save it."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding).removeprefix("\ufeff")
            except UnicodeDecodeError as exc:
                raise DocumentError(f"not valid {encoding.upper()} (invalid data at offset {exc.start})") from None
    if b"\x00" in raw:
        if _looks_like_utf16(raw):
            raise DocumentError("UTF-16 without a byte-order mark: save it as UTF-8")
        raise DocumentError("binary file (contains NUL bytes)")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 (invalid byte at offset {exc.start})") from None


def _looks_like_utf16(raw: bytes) -> bool:
    """Mostly-ASCII text in UTF-16 has a NUL in every other byte."""
    sample = raw[:4096]
    half = len(sample) // 2
    return half > 0 and max(sample[0::2].count(0), sample[1::2].count(0)) >= 0.6 * half


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


def _clean_metadata(meta: dict) -> dict:
    unknown = sorted(str(key) for key in meta if key not in (*METADATA_FIELDS, "questions"))
    if unknown:
        logger.info("ignoring unknown front matter fields: %s", ", ".join(unknown))
    cleaned: dict = {}
    if meta.get("kind") not in (None, ARTICLE, NOTE):
        raise DocumentError(f"front matter field 'kind' must be {ARTICLE} or {NOTE}, not {meta['kind']!r}")
    questions = meta.get("questions")
    if questions is not None:
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            raise DocumentError("front matter field 'questions' must be a list of questions")
        cleaned["questions"] = tuple(_cap(q.strip(), 500) for q in questions[:MAX_QUESTIONS])
    for key in METADATA_FIELDS:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, dict | list):
            raise DocumentError(f"front matter field {key!r} must be text, not a {type(value).__name__}")
        cleaned[key] = _cap(str(value).strip(), MAX_FIELD_CHARS.get(key, DEFAULT_MAX_FIELD_CHARS))
    return cleaned


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _first_line(text: str, markdown: bool) -> str:
    line = next(line for line in text.splitlines() if line.strip()).strip()
    if markdown:
        line = line.lstrip("#").strip() or line
    return _cap(line, DEFAULT_MAX_FIELD_CHARS)


def guess_language(text: str) -> str:
    """A script-level guess for files without ``language``: enough to route lexical vs dense weight."""
    letters = len(_LETTER.findall(text[:5000]))
    if letters and len(_DEVANAGARI.findall(text[:5000])) / letters > 0.3:
        return "hi"
    return "und"
