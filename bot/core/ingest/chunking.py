"""Split documents into sentences and overlapping chunks, keeping character offsets.

Every sentence and chunk is a ``(start, end)`` span into its document's text, so a quote is always
``document.text[start:end]``: verbatim by construction, never re-assembled.

Four things keep page furniture and repetition from crowding out the article text:
- lines such as "Picture 1 of ..." are dropped;
- embedded social-media posts are dropped, every line of them: an attribution line ("— Name
  (@handle) October 3, 2020") and the post's text above it, back to the previous attribution, a blank
  line, or a line in the article's own script (a Hindi article quoting English posts). They are
  readers' reactions, not reporting: quoting one as an answer would pass off a stranger's claim as
  the article's. (In an article whose posts share its script, only the line before an attribution
  that follows article text is taken: nothing structural tells where a longer post begins there.);
- a social-media sign-off ("Follow us on ...", "Join our ...") ends the article: what follows it
  (forum plugs, author bios) is dropped;
- a sentence seen before anywhere in the corpus (case and spacing folded) is indexed once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import regex

from bot.core.ingest.knowledge import Document
from bot.core.ingest.lexical import latin_share

logger = logging.getLogger(__name__)

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e inc ltd co corp no fig approx gen gov sen rep lt col "
    "capt sgt jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n a.m p.m ph.d m.sc b.sc".split()
)
_TERMINATOR = regex.compile(r"[.!?।॥]+[\"'”’)\]]*(?=\s|$)")
_WORD_BEFORE = regex.compile(r"(\S+)$")
_INITIALS = regex.compile(r"^(?:\p{L}\.)*\p{L}$")
_FURNITURE = regex.compile(r"^(?:picture|photo|image|slide|gallery)\s+\d+\s+(?:of|/)\b", regex.IGNORECASE)
_SIGN_OFF = regex.compile(
    r"^(?:follow us\b|join our\b|original article\b|sign up\b|subscribe\b|share this\b|read more\b|"
    r"click here\b|advertisement\s*$)",
    regex.IGNORECASE,
)
_LABEL = regex.compile(r"^\S+(?:\s\S+){0,2}:\s*$")
_ATTRIBUTION = regex.compile(r"^[—–-]\s*.{1,80}\(@\w{1,30}\)\s+\p{L}+\.?\s+\d{1,2},\s+\d{4}\s*$")
_LEADING_JUNK = ".,;: \t"


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    start: int
    end: int
    sentences: tuple[int, ...]  # indices into ``Chunking.sentences``


@dataclass
class Chunking:
    sentences: list[Sentence] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    furniture: int = 0
    duplicates: int = 0


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]``; a sentence never crosses a line break."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    line_start = start
    while line_start < end:
        line_end = text.find("\n", line_start, end)
        line_end = end if line_end == -1 else line_end
        spans.extend(_split_line(text, line_start, line_end))
        line_start = line_end + 1
    return spans


def _split_line(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    line = text[start:end]
    cut = 0
    for match in _TERMINATOR.finditer(line):
        if _is_boundary(line, match.start(), match.end()):
            yield from _trimmed(text, start + cut, start + match.end())
            cut = match.end()
    yield from _trimmed(text, start + cut, end)


def _is_boundary(line: str, punct_start: int, punct_end: int) -> bool:
    rest = line[punct_end:].lstrip()
    if rest and (rest[0].islower() or rest[0].isdigit()):
        return False
    if line[punct_start] == "." and punct_end - punct_start == 1:
        word = _WORD_BEFORE.search(line[:punct_start])
        if word:
            token = word.group(1).lstrip("(\"'“‘").lower()
            if token in ABBREVIATIONS or _INITIALS.match(token):
                return False
    return True


def _trimmed(text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    while start < end and text[start] in _LEADING_JUNK:
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        yield start, end


def sentence_key(text: str) -> str:
    """Case- and spacing-folded form used to spot duplicates."""
    return " ".join(text.casefold().split())


def chunk_documents(documents: Iterable[Document], size: int = 800, overlap: int = 150) -> Chunking:
    """Sentences and chunks for the whole corpus, in document order, duplicates indexed once."""
    result = Chunking()
    seen: set[str] = set()
    for document in documents:
        for paragraph in _paragraph_sentences(document, result, seen):
            _pack(document.doc_id, paragraph, result, size, overlap)
    logger.debug(
        "chunked: %d sentences, %d chunks, %d furniture lines, %d duplicates",
        len(result.sentences),
        len(result.chunks),
        result.furniture,
        result.duplicates,
    )
    return result


def embedded_posts(lines: list[str], own_script_latin: bool | None = None) -> set[int]:
    """Indices of lines that belong to embedded social-media posts (see the module docstring).

    ``own_script_latin``: whether the article itself is written in Latin script (None: unknown)."""
    posts: set[int] = set()
    for number, line in enumerate(lines):
        if not _ATTRIBUTION.match(line.strip()):
            continue
        posts.add(number)
        above = number - 1
        while above >= 0 and lines[above].strip() and not _ATTRIBUTION.match(lines[above].strip()):
            posts.add(above)
            foreign = own_script_latin is not None and (latin_share(lines[above]) > 0.5) != own_script_latin
            next_up = above - 1
            if not foreign or next_up < 0 or not lines[next_up].strip():
                break
            if (
                not _ATTRIBUTION.match(lines[next_up].strip())
                and (latin_share(lines[next_up]) > 0.5) == own_script_latin
            ):
                break
            above = next_up
    return posts


def _latin_article(document: Document) -> bool | None:
    """Whether the article is written in Latin script, from its language or its letters."""
    if document.language in ("en", "fr", "de", "es", "it", "pt", "nl"):
        return True
    if document.language in ("hi", "mr", "ne", "ru", "zh", "ja", "ar"):
        return False
    return latin_share(document.text[:5000]) > 0.5


def _paragraph_sentences(document: Document, result: Chunking, seen: set[str]) -> Iterable[list[int]]:
    """Yield runs of kept sentence ids; a run ends at a blank line, furniture or a duplicate."""
    text = document.text
    lines = text.split("\n")
    posts = embedded_posts(lines, _latin_article(document))
    run: list[int] = []
    trailer = False
    position = 0
    for number, line in enumerate(lines):
        line_start, position = position, position + len(line) + 1
        stripped = line.strip()
        if not stripped:
            if run:
                yield run
                run = []
            continue
        trailer = trailer or bool(_SIGN_OFF.match(stripped))
        if trailer or number in posts or _FURNITURE.match(stripped) or _LABEL.match(stripped):
            result.furniture += 1
            if run:
                yield run
                run = []
            continue
        for start, end in split_sentences(text, line_start, line_start + len(line)):
            key = sentence_key(text[start:end])
            if key in seen:
                result.duplicates += 1
                if run:
                    yield run
                    run = []
                continue
            seen.add(key)
            result.sentences.append(Sentence(document.doc_id, start, end))
            run.append(len(result.sentences) - 1)
    if run:
        yield run


def _pack(doc_id: str, run: list[int], result: Chunking, size: int, overlap: int) -> None:
    """Greedily pack a run of sentences into chunks of about ``size`` characters, overlapping."""
    sentences = result.sentences
    current: list[int] = []
    for sentence_id in run:
        if current and sentences[sentence_id].end - sentences[current[0]].start > size:
            result.chunks.append(_chunk(doc_id, current, sentences))
            current = _tail(current, sentences, overlap)
        current.append(sentence_id)
    if current:
        result.chunks.append(_chunk(doc_id, current, sentences))


def _tail(ids: list[int], sentences: list[Sentence], overlap: int) -> list[int]:
    """The last sentences of a chunk that fit in ``overlap`` characters (never the whole chunk)."""
    tail: list[int] = []
    for sentence_id in reversed(ids[1:]):
        if sentences[ids[-1]].end - sentences[sentence_id].start > overlap:
            break
        tail.insert(0, sentence_id)
    return tail


def _chunk(doc_id: str, ids: list[int], sentences: list[Sentence]) -> Chunk:
    return Chunk(doc_id, sentences[ids[0]].start, sentences[ids[-1]].end, tuple(ids))
