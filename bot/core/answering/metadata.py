"""Questions about the articles themselves: who wrote one, which outlet published it, when, and which
articles the bot has.

They are answered from each document's front matter, never from its text's claims, and the answer
says so (``Answer.basis == "details"``: front ends print "From the article's details:"). Where the
article's own text carries the byline, the quote is taken from the text, verbatim; otherwise the
quote is the front-matter value, and its source is marked as a detail, not a passage.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from bot.core.answering.compose import DETAILS, MAX_QUOTED_SENTENCES, Answer, Source
from bot.core.ingest.knowledge import Document
from bot.core.ingest.lexical import tokenize
from bot.core.store.index import KnowledgeIndex

AUTHOR, PUBLISHER, PUBLISHED, CATALOGUE = "author", "publisher", "published", "catalogue"
LABELS = {AUTHOR: "author", PUBLISHER: "publisher", PUBLISHED: "publication date", CATALOGUE: "title"}
NO_DETAIL = "I don't know: the articles' details don't include their {label}."

_ARTICLE = r"(?:it|this|that|the (?:story|article|piece|report|news|post|item|articles|stories)|they)"
_INTENTS = [
    (
        AUTHOR,
        regex.compile(
            r"\bwho (?:wrote|writes|authored|penned|reported|is the author|was the author)\b|\bauthor(?:s|ed)?\b|"
            r"\bbyline\b|\bwritten by (?:whom|who)\b|\bwhich (?:journalist|reporter|writer)\b|\bकिसने लिखा",
            regex.IGNORECASE,
        ),
    ),
    (
        PUBLISHER,
        regex.compile(
            r"\b(?:which|what) (?:outlet|publication|publisher|site|website|newspaper|magazine|news ?(?:site|outlet|"
            r"organi[sz]ation|agency|source)|media|source)s?\b.*\b(?:publish|ran|run|post|print|carr)|"
            r"\bwho (?:published|publishes|ran|posted)\b|\bwhere (?:was|were) " + _ARTICLE + r" (?:published|posted)\b|"
            r"\b(?:which|what) (?:outlet|publication|publisher|newspaper|magazine|website)\b",
            regex.IGNORECASE,
        ),
    ),
    (
        PUBLISHED,
        regex.compile(
            r"\bwhen (?:was|were|did) " + _ARTICLE + r" (?:\w+ )*?(?:published|written|posted|released|come out|"
            r"appear)|\bpublication date\b|\bpublished (?:on )?(?:what|which) (?:date|day)\b|\bdate of publication\b",
            regex.IGNORECASE,
        ),
    ),
    (
        CATALOGUE,
        regex.compile(
            r"\b(?:which|what) (?:articles|sources|documents|stories|news articles|texts)\b.*\b(?:have|know|use|using|"
            r"got|read)\b|\blist (?:the|your|all) (?:articles|sources|documents)\b|\bwhat are your sources\b",
            regex.IGNORECASE,
        ),
    ),
]


def metadata_intent(question: str) -> str | None:
    """Which detail of the articles the question asks for, if it asks about the articles at all."""
    for intent, pattern in _INTENTS:
        if pattern.search(question):
            return intent
    return None


@dataclass(frozen=True)
class Detail:
    """One detail to quote: ``quote`` is ``document.text[start:end]`` when ``in_text``, else the
    front-matter value of ``field``."""

    document: Document
    field: str
    quote: str
    start: int = -1
    end: int = -1

    @property
    def in_text(self) -> bool:
        return self.start >= 0


def find_details(question: str, intent: str, documents: list[Document]) -> list[Detail]:
    """The details answering ``intent`` for the documents the question names (all, if it names none)."""
    named = _named_documents(question, documents)
    if intent == CATALOGUE:
        return [Detail(doc, "title", doc.title) for doc in documents]
    details = []
    for document in named or documents:
        value = getattr(document, intent)
        if not value:
            continue
        if intent == AUTHOR:
            details.append(_byline(document, value))
        else:
            details.append(Detail(document, intent, value))
    return details


def _byline(document: Document, author: str) -> Detail:
    """The author as the text prints it (a line of its own, else the first mention), if it does."""
    text = document.text
    at = -1
    for line in regex.finditer(r"(?m)^[ \t]*(.+?)[ \t]*$", text):
        if line.group(1).casefold() == author.casefold():
            at = line.start(1)
            break
    if at < 0:
        at = text.casefold().find(author.casefold())
    if at < 0:
        return Detail(document, AUTHOR, author)
    return Detail(document, AUTHOR, text[at : at + len(author)], at, at + len(author))


def _named_documents(question: str, documents: list[Document]) -> list[Document]:
    """The documents whose title, publisher or author share the most specific words with the question."""
    asked = set(tokenize(question)) - {"stori", "articl", "piec", "report", "publish", "wrote", "outlet"}
    if not asked:
        return []
    scores = []
    for document in documents:
        own = set(tokenize(" ".join(filter(None, (document.title, document.publisher, document.author)))))
        scores.append((len(asked & own), document))
    best = max((score for score, _ in scores), default=0)
    return [document for score, document in scores if best and score == best]


def answer_from_details(question: str, intent: str, index: KnowledgeIndex) -> Answer:
    """A question about the articles (author, outlet, date, which ones), answered from their details."""
    documents = list(index.documents.values())
    details = find_details(question, intent, documents)
    if not details:
        return Answer(question, False, NO_DETAIL.format(label=LABELS[intent]), basis=DETAILS)
    sources = []
    for number, detail in enumerate(details[:MAX_QUOTED_SENTENCES], start=1):
        document = detail.document
        sources.append(
            Source(
                number=number,
                doc_id=document.doc_id,
                title=document.title,
                quote=detail.quote,
                start=detail.start,
                end=detail.end,
                score=1.0,
                url=document.url,
                publisher=document.publisher,
                published=document.published,
                context=detail.quote,
                kind="text" if detail.in_text else "detail",
            )
        )
    text = " ".join(f"“{source.quote}” [{source.number}]" for source in sources)
    return Answer(question, True, text, sources, confidence=1.0, basis=DETAILS)
