"""Bringing articles in (bot/core/ingest): the polite fetcher, extraction without furniture, knowledge
files written whole and each article once, every refusal in one line with nothing changed, and
feeds polled conditionally. Everything is fetched from the test site on 127.0.0.1 (tests/newsroom.py).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import FetchSettings
from bot.core.engine import Engine
from bot.core.ingest import Refused
from bot.core.ingest.chunking import chunk_documents
from bot.core.ingest.extract import from_html, from_pdf
from bot.core.ingest.feeds import FEEDS_FILE, load_feeds
from bot.core.ingest.fetch import Fetcher
from bot.core.ingest.importer import DUPLICATE, REFUSED, UNCHANGED, UPDATED, Importer
from bot.core.ingest.knowledge import load_documents
from tests.helpers import TEST_FETCH, CountingEmbedder, make_settings
from tests.newsroom import FURNITURE, HINDI, SEEN, SPACE, STORIES, bulletin_page, launch_pdf, news_page

EXTRA = "Plant scientists said the zucchini looked healthy and smelled like the ones grown on Earth."


def indexed_sentences(story) -> list[str]:
    """What the hand-written file of ``story`` contributes to the index, sentence by sentence."""
    document = story.document
    return [document.text[s.start : s.end] for s in chunk_documents([document]).sentences]


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def fetcher() -> Fetcher:
    fetcher = Fetcher(TEST_FETCH)
    yield fetcher
    fetcher.close()


@pytest.fixture
def importer(tmp_path, fetcher) -> Importer:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    return Importer(knowledge, fetcher)


# --------------------------------------------------------------------------- extraction


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


# --------------------------------------------------------------------------- refusals


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


REFUSALS = {
    "unreachable": ("http://127.0.0.1:{closed}/story", "cannot reach 127.0.0.1"),
    "404": ("/missing", "answered 404 NOT FOUND"),
    "500": ("/broken", "answered 500 INTERNAL SERVER ERROR"),
    "redirect loop": ("/loop/a", "redirects in a loop"),
    "too many redirects": ("/hop/0", "redirects more than 5 times"),
    "not an article": ("/photo.jpg", "is image/jpeg, not an HTML page or a PDF or plain text"),
    "over the size cap": ("/huge", "over the 200,000-byte limit"),
    "over the cap while streaming": ("/huge-stream", "over the 200,000-byte limit"),
    "no article text": ("/gallery", "no article text"),
    "robots.txt": ("/private/draft", "robots.txt does not allow launchbot to fetch /private/draft"),
    "unreadable PDF": ("/damaged.pdf", "not a readable PDF"),
    "not a web address": ("ftp://127.0.0.1/file", "not a web address"),
}


def test_every_bad_input_is_one_line_and_changes_nothing(newsroom, importer):
    before = snapshot(importer.knowledge_dir)
    closed = closed_port()
    requests = []
    for source, _ in REFUSALS.values():
        source = source.format(closed=closed)
        requests.append(newsroom.url(source) if source.startswith("/") else source)
    outcomes = importer.add(requests, update_index=lambda: pytest.fail("nothing to index"))
    for (case, (_, expected)), outcome in zip(REFUSALS.items(), outcomes, strict=True):
        assert outcome.status == REFUSED, case
        assert expected in outcome.reason, (case, outcome.reason)
        assert "\n" not in outcome.line() and outcome.line().startswith("not added: "), case
    assert snapshot(importer.knowledge_dir) == before


def test_files_that_cannot_be_articles_are_refused(tmp_path, importer):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4\n%%EOF")
    outcomes = importer.prepare(
        [str(tmp_path / "notes.docx"), str(tmp_path / "absent.html"), str(tmp_path / "scan.pdf")]
    )
    assert [o.status for o in outcomes] == [REFUSED] * 3
    assert "not an article file" in outcomes[0].reason and "no such file" in outcomes[1].reason
    assert "PDF" in outcomes[2].reason


def test_a_failed_index_update_puts_every_file_back(newsroom, importer):
    existing = importer.knowledge_dir / "kept.md"
    existing.write_text("---\ntitle: Kept\n---\n" + "A sentence that stays as it was. " * 10)
    before = snapshot(importer.knowledge_dir)

    def failing() -> None:
        assert len(load_documents(importer.knowledge_dir).documents) == 3  # both written, whole
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        importer.add([newsroom.url(SPACE.path), newsroom.url(HINDI.path)], update_index=failing)
    assert snapshot(importer.knowledge_dir) == before


# --------------------------------------------------------------------------- politeness


def test_requests_name_the_bot_and_honour_robots_txt_once_per_site(newsroom, fetcher, httpserver):
    fetcher.get(newsroom.url(SPACE.path))
    fetcher.get(newsroom.url(HINDI.path))
    with pytest.raises(Refused, match=r"robots\.txt"):
        fetcher.get(newsroom.url("/private/draft"))
    agents = {request.headers["User-Agent"] for request, _ in httpserver.log}
    assert len(agents) == 1 and agents.pop().startswith("launchbot/")
    assert "mailto:ops@example.org" in httpserver.log[0][0].headers["User-Agent"]
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/robots.txt") == 1 and "/private/draft" not in paths


def test_requests_to_one_host_are_spaced_by_the_delay_or_the_sites_crawl_delay(newsroom, httpserver):
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    settings = TEST_FETCH.model_copy(update={"host_delay_seconds": 2.0})
    fetcher = Fetcher(settings, clock=lambda: now[0], sleep=sleep)
    fetcher.get(newsroom.url(SPACE.path))  # robots.txt, then the page 2 s later
    fetcher.get(newsroom.url(HINDI.path))
    assert waits == [2.0, 2.0]
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 7\n")
    httpserver.expect_request("/page").respond_with_data(news_page(SEEN), content_type="text/html")
    slow = Fetcher(settings, clock=lambda: now[0], sleep=sleep)
    waits.clear()
    slow.get(newsroom.url("/page"))
    slow.get(newsroom.url("/page"))
    assert waits == [2.0, 7.0]  # the first turn was set before robots.txt was read


def test_a_robots_txt_server_error_refuses_the_site_and_a_missing_one_allows_it(httpserver, fetcher):
    httpserver.expect_request("/robots.txt").respond_with_data("down", status=503)
    with pytest.raises(Refused, match=r"robots\.txt answered 503"):
        fetcher.get(httpserver.url_for("/story"))
    httpserver.clear()
    httpserver.expect_request("/robots.txt").respond_with_data("no", status=404)
    httpserver.expect_request("/story").respond_with_data(news_page(SEEN), content_type="text/html")
    assert Fetcher(TEST_FETCH).get(httpserver.url_for("/story")).body


# --------------------------------------------------------------------------- the same article once


@pytest.fixture
def library(tmp_path, embedder) -> Engine:
    """An engine over a copy of the hand-written knowledge base, counting what it embeds."""
    engine = Engine(make_settings(tmp_path), CountingEmbedder(embedder))
    engine.open()
    return engine


def test_an_article_is_added_once_updated_when_changed_and_a_copy_is_a_duplicate(newsroom, library):
    url = newsroom.url("/bulletins/zucchini")
    [added] = library.add([url])
    assert added.status == "added" and added.chunks > 0
    assert added.line().startswith("added: “Station crew harvests its first zucchini” — Orbit Daily, 2018-12-01, en")
    assert added.path.read_text(encoding="utf-8").count("text_sha256: ") == 1
    document = library.index.documents[added.doc_id]
    assert (document.via, document.source, document.url) == ("link", url, url)

    embedded = library.embedder.embedded
    [again] = library.add([url])
    assert again.status == UNCHANGED and again.doc_id == added.doc_id
    assert library.embedder.embedded == embedded  # nothing written, nothing embedded

    page = bulletin_page("zucchini", url).replace("</div></article>", "<p>" + EXTRA + "</p></div></article>")
    newsroom.server.clear()
    newsroom.server.expect_request("/robots.txt").respond_with_data("")
    newsroom.server.expect_request("/bulletins/zucchini").respond_with_data(page, content_type="text/html")
    [changed] = library.add([url])
    assert (changed.status, changed.doc_id) == (UPDATED, added.doc_id)
    texts = [library.index.chunk_text(i) for i, c in enumerate(library.index.chunks) if c.doc_id == added.doc_id]
    changed_texts = sum(EXTRA in text for text in texts) + 1  # its chunks holding the new sentence, and it
    assert 0 < library.embedder.embedded - embedded <= changed_texts  # every other vector reused
    assert library.index.documents[added.doc_id].added == document.added  # first added, then updated
    assert library.index.documents[added.doc_id].updated is not None


def test_the_same_text_under_another_address_is_a_duplicate(newsroom, library):
    knowledge = snapshot(library.settings.knowledge_dir)
    outcomes = library.add([newsroom.url("/mirror/astronaut-video"), newsroom.url(SEEN.path)])
    assert [o.status for o in outcomes] == [DUPLICATE, DUPLICATE]
    assert "astronaut-video-space-com (“This Astronaut Video" in outcomes[0].line()  # the hand-written one
    assert "launch-seen-from-space-en" in outcomes[1].line()  # other furniture, the same sentences
    assert snapshot(library.settings.knowledge_dir) == knowledge


def test_removing_a_document_parks_its_file_and_drops_it_from_the_index(library):
    document, report = library.remove("launch-seen-from-space-en")
    assert document.title == "The process of spacecraft launching into orbit looks from space"
    assert report.removed == ["launch-seen-from-space-en"]
    knowledge = library.settings.knowledge_dir
    assert "launch-seen-from-space-en" not in library.index.documents
    assert not (knowledge / "launch-seen-from-space-en.md").exists()
    assert [p.name.endswith("launch-seen-from-space-en.md") for p in (knowledge / ".removed").iterdir()] == [True]
    with pytest.raises(Refused, match="no document with the id"):
        library.remove("launch-seen-from-space-en")


# --------------------------------------------------------------------------- feeds


def test_a_feed_item_published_after_a_poll_is_answerable_after_the_next(newsroom, library):
    knowledge = library.settings.knowledge_dir
    (knowledge / FEEDS_FILE).write_text(
        f"feeds:\n  - url: {newsroom.url('/feed.xml')}\n    name: Orbit Daily\n    keywords: [station, ISS]\n"
    )
    newsroom.publish(
        "Crew harvests zucchini on the station", "/bulletins/zucchini", "Veggie", datetime(2018, 11, 28, tzinfo=UTC)
    )
    newsroom.publish(
        "The best telescopes for beginners", "/gallery", "Buying guide", datetime(2018, 11, 29, tzinfo=UTC)
    )
    first = library.watch_feeds()
    assert [o.status for _, o in first.outcomes] == ["added"]  # the telescope guide is filtered out
    assert library.index.documents[first.outcomes[0][1].doc_id].via == "feed"

    unchanged = library.watch_feeds()
    assert unchanged.outcomes == [] and unchanged.unchanged == [newsroom.url("/feed.xml")]
    assert newsroom.feed_requests[-1].get("If-None-Match")  # a conditional request, answered 304

    question = "When was the station's treadmill repaired?"
    assert not library.answer(question).answered or "treadmill" not in library.answer(question).text
    newsroom.publish(
        "Treadmill repaired on the station", "/bulletins/treadmill", "Repairs", datetime(2018, 12, 1, tzinfo=UTC)
    )
    second = library.watch_feeds()
    assert [(item.title, o.status) for item, o in second.outcomes] == [("Treadmill repaired on the station", "added")]
    answer = library.answer(question)
    assert answer.answered and "December 1" in answer.text
    link = newsroom.url("/bulletins/treadmill")
    assert answer.sources[0].url == link  # the answer cites the article's link
    assert (knowledge / ".feeds-state.json").exists() and ".feeds-state" not in str(library.index.documents)


def test_a_broken_feeds_file_names_the_problem(tmp_path):
    path = tmp_path / FEEDS_FILE
    path.write_text("feeds:\n  - name: no address\n")
    with pytest.raises(ValueError, match="feed 1 needs a 'url'"):
        load_feeds(path)
    path.write_text("feeds: [")
    with pytest.raises(ValueError, match="cannot read the feeds"):
        load_feeds(path)
    assert load_feeds(tmp_path / "absent.yaml") == []


def test_an_unreachable_feed_is_a_problem_and_changes_nothing(library):
    knowledge = library.settings.knowledge_dir
    (knowledge / FEEDS_FILE).write_text(f"feeds:\n  - http://127.0.0.1:{closed_port()}/rss\n")
    before = snapshot(knowledge)
    watched = library.watch_feeds()
    assert watched.outcomes == [] and len(watched.problems) == 1 and "cannot reach" in watched.problems[0]
    assert {k: v for k, v in snapshot(knowledge).items() if k != ".feeds-state.json"} == before


def test_fetch_settings_are_checked():
    with pytest.raises(ValueError):
        FetchSettings(max_page_bytes=10)
