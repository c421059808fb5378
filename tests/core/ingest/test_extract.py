"""Extraction (bot/core/ingest/extract.py): a news page as served by the test site yields every
sentence of its article and none of the page's furniture, with its details; a PDF its paragraphs whole."""

from __future__ import annotations

import pytest

from bot.core.ingest.chunking import chunk_documents
from bot.core.ingest.extract import from_html, from_pdf
from tests.newsroom import FURNITURE, SEEN, STORIES, launch_pdf


def indexed_sentences(story) -> list[str]:
    """What the hand-written file of ``story`` contributes to the index, sentence by sentence."""
    document = story.document
    return [document.text[s.start : s.end] for s in chunk_documents([document]).sentences]


@pytest.mark.parametrize("story", STORIES, ids=lambda story: story.file)
def test_a_news_page_yields_every_article_sentence_and_none_of_its_furniture(story, newsroom, fetcher):
    page = fetcher.get(newsroom.url(story.path))
    article = from_html(page.body, page.url)
    missing = [sentence for sentence in indexed_sentences(story) if sentence not in article.text]
    assert not missing
    assert [phrase for phrase in FURNITURE if phrase in article.text] == []
    assert (article.title, article.publisher, article.author) == (story.headline, story.site, story.author)
    assert (article.published, article.language, article.url) == (story.published, story.language, story.canonical)
    assert article.text.startswith(story.headline + "\n\n")  # headline first, paragraphs apart


def test_a_pdf_yields_its_paragraphs_whole():
    article = from_pdf(launch_pdf(SEEN))
    assert [s for s in indexed_sentences(SEEN) if s not in article.text] == []
    assert (article.title, article.author) == (SEEN.headline, SEEN.author)
    assert "\n\n" in article.text and "  " not in article.text
