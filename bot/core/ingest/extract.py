"""A page, a PDF or a text file made into an ``Article``: its main text as extracted, and its details.

HTML goes through trafilatura, which finds the article body and its details (title, author, outlet,
published date, canonical URL; the language from ``<html lang>``). Before it reads the page, what is
never the article is pruned: embedded social-media posts (they are readers' reactions, and quoting
one would pass off a stranger's claim as the article's), iframes, and cookie or consent banners
(trafilatura alone takes a lone banner for the article). Navigation, related links, comments and
footers are trafilatura's to leave out, and it does. Tables are left out: their cells do not read
as sentences to quote.

PDFs go through pdfminer.six: its layout analysis groups lines into paragraphs, whose lines are
joined with a space (a hyphen that ends a line before a lower-case word is kept, with no space);
runs of spaces that justified type leaves are single spaces. ``.txt`` and ``.md`` files are read as
the knowledge base reads them (front matter included).

The text is never rewritten: the headline opens it and paragraphs are separated by a blank line, as
in a hand-written knowledge file, and every sentence is the source's. An input with too little text
to be an article (under ``MIN_ARTICLE_CHARS`` letters and digits) is ``Refused``.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

import regex

from bot.core.ingest import Refused
from bot.core.ingest.knowledge import DocumentError, guess_language, parse_document

logger = logging.getLogger(__name__)

MIN_ARTICLE_CHARS = 200  # letters and digits: a short news brief has more, a cookie notice fewer
_CONTENT = regex.compile(r"[\p{L}\p{N}]")
_SPACES = re.compile(r"[ \t\u00a0]{2,}")
_LANG = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")


def _has_class(*names: str) -> str:
    lowered = "translate(concat(' ', @class, ' ', @id), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    return " or ".join(f"contains({lowered}, '{name}')" for name in names)


PRUNE = [
    # embedded posts: X/Twitter, Instagram, TikTok, Facebook, Reddit, Bluesky, Mastodon, Threads
    "//blockquote["
    + _has_class(
        "twitter-tweet",
        "twitter-video",
        "instagram-media",
        "tiktok-embed",
        "reddit-embed",
        "reddit-card",
        "bluesky-embed",
        "mastodon-embed",
        "text-post-media",
    )
    + "]",
    "//*[" + _has_class("fb-post", "fb-video", "social-embed", "embed-tweet", "tweet-embed") + "]",
    "//iframe",
    # cookie and consent banners
    "//*[" + _has_class("cookie", "consent", "gdpr") + "]",
]


@dataclass(frozen=True)
class Article:
    """What was extracted. ``text`` is verbatim; the details are None where the source has none."""

    text: str
    title: str
    author: str | None = None
    publisher: str | None = None
    published: str | None = None
    language: str | None = None
    url: str | None = None  # the canonical address, where the page names one


def extract(body: bytes, content_type: str, url: str | None = None, *, name: str | None = None) -> Article:
    """The article in ``body``: an HTML page, a PDF, or plain text (by its media type)."""
    where = name or url or "the input"
    if content_type in ("text/html", "application/xhtml+xml"):
        return from_html(body, url, where=where)
    if content_type == "application/pdf":
        return from_pdf(body, where=where)
    if content_type in ("text/plain", "text/markdown"):
        return from_text(body, where=where)
    raise Refused(f"{where} is {content_type or 'of no stated type'}, not an HTML page, a PDF or plain text")


def from_html(body: bytes | str, url: str | None = None, *, where: str = "the page") -> Article:
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(body)
    if tree is None:
        raise Refused(f"{where} is not a readable HTML page")
    language = _html_language(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_formatting=False,
        include_links=False,
        prune_xpath=PRUNE,
    )
    text = _body_text(document.body) if document is not None and document.body is not None else ""
    _check_text(text, where)
    title = _clean(document.title) or _first_line(text)
    if not text.startswith(title):  # the headline opens the text, as in a hand-written knowledge file
        text = f"{title}\n\n{text}"
    return Article(
        text=text,
        title=title,
        author=_clean(document.author),
        publisher=_clean(document.sitename),
        published=_clean(document.date),
        language=language or guess_language(text),
        url=_clean(document.url) if document.url and document.url.startswith(("http://", "https://")) else url,
    )


def from_pdf(body: bytes, *, where: str = "the PDF") -> Article:
    """Paragraphs from pdfminer's layout analysis; title and author from the PDF's own details."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer

    try:
        info = _pdf_info(body)
        paragraphs = []
        for page in extract_pages(io.BytesIO(body), laparams=LAParams()):
            for element in page:
                if isinstance(element, LTTextContainer):
                    paragraph = _join_lines(element.get_text())
                    if paragraph:
                        paragraphs.append(paragraph)
    except Refused:
        raise
    except Exception as exc:  # a damaged PDF raises anything from pdfminer's parser
        reason = str(exc).strip() or type(exc).__name__
        raise Refused(f"{where} is not a readable PDF ({reason[:200]})") from None
    text = "\n\n".join(paragraphs)
    if not _CONTENT.search(text):
        raise Refused(f"{where} has no text to extract (a scanned image needs OCR first)")
    _check_text(text, where)
    return Article(
        text=text,
        title=info.get("Title") or _first_line(text),
        author=info.get("Author"),
        language=guess_language(text),
    )


def from_text(body: bytes, *, where: str = "the file") -> Article:
    """A text or Markdown file, read exactly as the knowledge base reads it."""
    try:
        document = parse_document(body, doc_id="import", path=where)
    except DocumentError as exc:
        raise Refused(f"{where}: {exc}") from None
    _check_text(document.text, where)
    return Article(
        text=document.text,
        title=document.title,
        author=document.author,
        publisher=document.publisher,
        published=document.published,
        language=document.language,
        url=document.url,
    )


# --------------------------------------------------------------------------- HTML


def _html_language(tree) -> str | None:
    """The page's declared language as a primary tag: ``<html lang="en-GB">`` -> "en"."""
    declared = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    if not declared:
        for meta in tree.iter("meta"):
            if (meta.get("http-equiv") or "").lower() == "content-language" or meta.get("property") == "og:locale":
                declared = meta.get("content")
                break
    match = _LANG.match((declared or "").strip())
    return match.group(0).lower() if match else None


_BLOCKS = {"p", "head", "quote", "list", "item", "code", "table", "row", "cell", "div"}


def _body_text(body) -> str:
    """trafilatura's paragraphs, one block each, separated by a blank line (line breaks kept)."""
    blocks = []
    for element in body:
        if element.tag == "list":
            text = "\n".join(_inline(item).strip() for item in element.iter("item"))
        else:
            text = _inline(element)
        text = "\n".join(line.strip() for line in text.strip().split("\n"))
        if text:
            blocks.append(text)
    return "\n\n".join(blocks)


def _inline(element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag in _BLOCKS:
            parts.append("\n" + _inline(child) + "\n")
        elif child.tag != "graphic":
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


# --------------------------------------------------------------------------- PDF


def _pdf_info(body: bytes) -> dict[str, str]:
    """The PDF's Title and Author, decoded (PDF strings are PDFDocEncoding or UTF-16)."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser
    from pdfminer.utils import decode_text

    document = PDFDocument(PDFParser(io.BytesIO(body)))
    found: dict[str, str] = {}
    for info in document.info:
        for key in ("Title", "Author"):
            value = info.get(key)
            if hasattr(value, "resolve"):
                value = value.resolve()
            if isinstance(value, bytes):
                value = decode_text(value)
            if isinstance(value, str) and value.strip():
                found.setdefault(key, value.strip())
    return found


def _join_lines(box: str) -> str:
    """One paragraph from a text box's lines: typesetting's line breaks are not the article's."""
    lines = [_SPACES.sub(" ", line).strip() for line in box.splitlines()]
    lines = [line for line in lines if line]
    text = ""
    for line in lines:
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and line[:1].islower():
            text += line
        else:
            text = f"{text} {line}" if text else line
    return text


# --------------------------------------------------------------------------- shared


def _check_text(text: str, where: str) -> None:
    found = len(_CONTENT.findall(text))
    if found < MIN_ARTICLE_CHARS:
        raise Refused(
            f"no article text in {where}: {found} letters outside navigation, banners and other page furniture "
            f"(an article has at least {MIN_ARTICLE_CHARS})"
        )


def _clean(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else ""
    return value or None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "untitled")[:200]
