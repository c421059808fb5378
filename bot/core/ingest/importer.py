"""Articles into the knowledge directory: one file each, written whole, and each article once.

A link is fetched (``fetch``), a file read; either is extracted (``extract``) and written as a
knowledge file: YAML front matter with the article's details and its provenance (``url``, ``added``,
``via``: file, link or feed, ``source``: what was given, ``text_sha256``), then the text as
extracted. A file is written to a hidden temporary name beside its place and renamed over it, so a
crash leaves the old file or the new one, never half of one (the loader skips hidden files).

The same article once: an article whose address (canonical, final or given) or source matches a
document already there is that document. Its text unchanged, nothing is written ("unchanged");
changed, its file is replaced and only its chunks are embedded again by the incremental build
("updated"). Another document with the same text under another address makes it a duplicate of
that one, and nothing is written; so does another document holding 90% of its sentences (the same
article under other furniture: the index would drop every sentence of it as a repeat). Text is
compared by ``text_sha256``: SHA-256 of the text with its whitespace folded.

``apply`` writes the files and runs the index update it is given; if the update fails, every file
is put back as it was, so a failed add changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml

from bot.config import MAX_DOCUMENT_BYTES
from bot.core.ingest import Refused
from bot.core.ingest.chunking import sentence_key, split_sentences
from bot.core.ingest.extract import Article, extract
from bot.core.ingest.knowledge import Document, DocumentError, load_documents, parse_document

if TYPE_CHECKING:  # the HTTP client is imported when the first page is fetched, not with the engine
    from bot.core.ingest.fetch import Fetcher

logger = logging.getLogger(__name__)

LINK, FILE, FEED = "link", "file", "feed"
ADDED, UPDATED, UNCHANGED, DUPLICATE, REFUSED = "added", "updated", "unchanged", "duplicate", "refused"
FILE_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
}
NEAR_COPY = 0.9  # share of an article's sentences another document holds that makes it a duplicate
REMOVED_DIR = ".removed"  # removed documents are moved here (hidden: never loaded), not deleted
_SLUG_WORD = re.compile(r"[a-z0-9]+")
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One source to bring in: a link or a file path. ``details`` are front matter fields given by
    the maintainer (they win over the extracted ones); ``defaults`` fill only what extraction left
    empty (a feed's date for its item)."""

    source: str
    via: str | None = None  # link or file by the source's look; feed for a feed's items
    feed: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What became of one source. ``chunks`` is filled in once the index has been updated."""

    source: str
    status: str
    reason: str = ""
    doc_id: str | None = None
    article: Article | None = None
    path: Path | None = None
    content: bytes | None = None  # the file to write (added, updated)
    chunks: int | None = None

    @property
    def changed(self) -> bool:
        return self.status in (ADDED, UPDATED)

    def line(self) -> str:
        """One line for a maintainer: what was added, or why not."""
        if self.status == REFUSED:
            return f"not added: {self.reason}"
        article = self.article
        title = f"“{article.title}”" if article else self.doc_id
        if self.status == DUPLICATE:
            return f"duplicate, not added: {self.source} has the same text as {self.reason}"
        if self.status == UNCHANGED:
            return f"unchanged: {title} ({self.doc_id}) is already in the knowledge base as it is now"
        language = article.language if article and article.language != "und" else None
        details = [article.publisher, article.published, language] if article else []
        chunks = f"{self.chunks} chunks" if self.chunks is not None else None
        shown = ", ".join(part for part in [*details, chunks] if part)
        return f"{self.status}: {title} — {shown} (id {self.doc_id})"


def text_sha256(text: str) -> str:
    """The article's text as compared for "unchanged" and "duplicate": whitespace folded."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


class Importer:
    """Adds articles to one knowledge directory, and removes them."""

    def __init__(
        self,
        knowledge_dir: Path,
        fetcher: Fetcher | None = None,
        *,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.knowledge_dir = knowledge_dir
        self.fetcher = fetcher
        self.max_document_bytes = max_document_bytes
        self.now = now

    # ------------------------------------------------------------------ adding

    def prepare(self, requests: Iterable[Request | str]) -> list[Outcome]:
        """Fetch or read and extract each source, and decide what would become of it; writes nothing."""
        known = self.documents()
        outcomes = []
        for request in requests:
            request = Request(request) if isinstance(request, str) else request
            try:
                outcome = self._prepare_one(request, known)
            except Refused as refused:
                outcome = Outcome(request.source, REFUSED, str(refused))
            outcomes.append(outcome)
            if outcome.changed:  # a later source in the same batch may be its duplicate
                known = [doc for doc in known if doc.doc_id != outcome.doc_id]
                known.append(parse_document(outcome.content, doc_id=outcome.doc_id, path=str(outcome.path)))
        return outcomes

    def apply(self, outcomes: list[Outcome], update_index: Callable[[], T]) -> T | None:
        """Write the changed files, then update the index; if that fails, put every file back as it
        was and re-raise. None when there was nothing to write."""
        changes = [outcome for outcome in outcomes if outcome.changed]
        if not changes:
            return None
        with self._restoring_on_failure() as written:
            for outcome in changes:
                written.append((outcome.path, _read_or_none(outcome.path)))
                write_atomically(outcome.path, outcome.content)
            return update_index()

    def add(self, requests: Iterable[Request | str], update_index: Callable[[], object]) -> list[Outcome]:
        outcomes = self.prepare(requests)
        self.apply(outcomes, update_index)
        return outcomes

    def _prepare_one(self, request: Request, known: list[Document]) -> Outcome:
        source = request.source
        via = request.via or (LINK if "://" in source else FILE)
        if via == FILE:
            article, given, addresses = self._read_file(source)
        else:
            article, given, addresses = self._fetch(source)
        article = replace(
            article,
            **{key: value for key, value in request.defaults.items() if value and not getattr(article, key)},
            **{key: value for key, value in request.details.items() if value},
        )
        if article.url:
            addresses.add(normal_url(article.url))
        digest = text_sha256(article.text)
        same = next((doc for doc in known if _identity(doc) & addresses), None)
        if same is not None and _digest_of(same) == digest:
            return Outcome(source, UNCHANGED, doc_id=same.doc_id, article=article, path=Path(same.path))
        twin = next((doc for doc in known if _digest_of(doc) == digest and doc is not same), None)
        twin = twin or _near_copy(article.text, [doc for doc in known if doc is not same])
        if twin is not None:
            where = f", {twin.url}" if twin.url else ""
            return Outcome(source, DUPLICATE, f"{twin.doc_id} (“{twin.title}”{where})", twin.doc_id, article)
        feed = request.feed
        if same is not None:
            content = self._front_matter(article, via, feed, given, digest, added=same.added)
            return Outcome(source, UPDATED, doc_id=same.doc_id, article=article, path=Path(same.path), content=content)
        doc_id = self._new_id(article, given, {doc.doc_id for doc in known})
        path = self.knowledge_dir / f"{doc_id}.md"
        content = self._front_matter(article, via, feed, given, digest)
        return Outcome(source, ADDED, doc_id=doc_id, article=article, path=path, content=content)

    def _fetch(self, url: str) -> tuple[Article, str, set[str]]:
        if self.fetcher is None:
            raise Refused(f"cannot fetch {url}: this importer reads files only")
        page = self.fetcher.get(url)
        article = extract(page.body, page.content_type, page.url)
        return article, url, {normal_url(url), normal_url(page.url)}

    def _read_file(self, name: str) -> tuple[Article, str, set[str]]:
        path = Path(name).expanduser()
        kind = FILE_TYPES.get(path.suffix.lower())
        if kind is None:
            kinds = ", ".join(sorted(FILE_TYPES))
            raise Refused(f"{name}: not an article file ({path.suffix or 'no extension'}; launchbot reads {kinds})")
        try:
            size = path.stat().st_size
            if size > self.max_document_bytes * 10:
                raise Refused(f"{name} is {size:,} bytes, too large to be an article")
            body = path.read_bytes()
        except FileNotFoundError:
            raise Refused(f"{name}: no such file") from None
        except IsADirectoryError:
            raise Refused(f"{name} is a directory, not a file") from None
        except OSError as exc:
            raise Refused(f"cannot read {name}: {exc.strerror or exc}") from None
        absolute = str(path.resolve())
        return extract(body, kind, None, name=name), absolute, {absolute}

    def _front_matter(
        self,
        article: Article,
        via: str,
        feed: str | None,
        given: str,
        digest: str,
        *,
        added: str | None = None,
    ) -> bytes:
        now = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = {
            "title": article.title,
            "language": article.language,
            "publisher": article.publisher,
            "author": article.author,
            "published": article.published,
            "url": article.url,
            "added": added or now,
            "updated": now if added else None,
            "via": via,
            "feed": feed,
            "source": given,
            "text_sha256": digest,
        }
        header = yaml.safe_dump(
            {key: value for key, value in fields.items() if value},
            allow_unicode=True,
            sort_keys=False,
            width=1_000_000,
        )
        content = f"---\n{header}---\n{article.text}\n".encode()
        if len(content) > self.max_document_bytes:
            raise Refused(
                f"{given}: the article is {len(content):,} bytes, over the {self.max_document_bytes:,}-byte "
                "document limit (max_document_bytes)"
            )
        try:
            parse_document(content, doc_id="check", path=given)
        except DocumentError as exc:  # never write a file the knowledge base would skip
            raise Refused(f"{given}: {exc}") from None
        return content

    def _new_id(self, article: Article, given: str, taken: set[str]) -> str:
        """A readable id: the title's ASCII words, else the address's last segment (canonical first)."""
        words = _SLUG_WORD.findall(article.title.lower())
        for address in (article.url, given):
            if len(words) < 2 and address:
                words = _SLUG_WORD.findall(Path(urlsplit(address).path).stem.lower())
        if not words:
            words = ["article", text_sha256(article.text)[:8]]
        slug = words[0][:60]
        for word in words[1:]:
            if len(slug) + 1 + len(word) > 60:
                break
            slug = f"{slug}-{word}"
        doc_id, number = slug, 2
        while doc_id in taken or (self.knowledge_dir / f"{doc_id}.md").exists():
            doc_id, number = f"{slug}-{number}", number + 1
        return doc_id

    # ------------------------------------------------------------------ listing and removing

    def documents(self) -> list[Document]:
        """The documents in the knowledge directory now (those that load)."""
        if not self.knowledge_dir.is_dir():
            raise FileNotFoundError(f"knowledge directory not found: {self.knowledge_dir}")
        return load_documents(self.knowledge_dir, self.max_document_bytes).documents

    def remove(self, doc_id: str, update_index: Callable[[], T]) -> tuple[Document, T]:
        """Move a document out of the knowledge base (into ``.removed/``, never deleted) and update
        the index; if the update fails, the document is put back."""
        document = next((doc for doc in self.documents() if doc.doc_id == doc_id), None)
        if document is None:
            raise Refused(f"no document with the id {doc_id!r} (the list of documents shows each one's id)")
        path = Path(document.path)
        stamp = self.now().strftime("%Y%m%dT%H%M%SZ")
        parked = self.knowledge_dir / REMOVED_DIR / f"{stamp}-{path.name}"
        parked.parent.mkdir(exist_ok=True)
        os.replace(path, parked)
        try:
            return document, update_index()
        except BaseException:
            os.replace(parked, path)
            raise

    @contextlib.contextmanager
    def _restoring_on_failure(self):
        written: list[tuple[Path, bytes | None]] = []
        try:
            yield written
        except BaseException:
            for path, previous in reversed(written):
                try:
                    if previous is None:
                        path.unlink(missing_ok=True)
                    else:
                        write_atomically(path, previous)
                except OSError:
                    logger.exception("could not restore %s after a failed add", path)
            raise


def write_atomically(path: Path, content: bytes) -> None:
    """``content`` at ``path``, or (after a crash or an error) whatever was there before."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a power cut once the directory is synced
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def normal_url(url: str) -> str:
    """An address as compared: scheme and host in lower case, no fragment, no default port."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port and parts.port != default:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def _identity(document: Document) -> set[str]:
    """Every address and source a document is known by."""
    found = set()
    if document.url:
        found.add(normal_url(document.url))
    source = document.source
    if source:
        found.add(normal_url(source) if source.startswith(("http://", "https://")) else source)
    return found


def _digest_of(document: Document) -> str:
    """From the text itself: the stored ``text_sha256`` goes stale when someone edits the file."""
    return text_sha256(document.text)


def _near_copy(text: str, documents: list[Document]) -> Document | None:
    """The document already holding ``NEAR_COPY`` of this text's sentences, if any: the same article
    under other page furniture, whose every sentence the index would drop as a repeat."""
    keys = {sentence_key(text[start:end]) for start, end in split_sentences(text)}
    if not keys:
        return None
    for document in documents:
        theirs = {sentence_key(document.text[start:end]) for start, end in split_sentences(document.text)}
        if len(keys & theirs) >= NEAR_COPY * len(keys):
            return document
    return None


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
