"""The polite fetcher (bot/core/ingest/fetch.py): a user agent naming the bot, robots.txt honoured,
requests to one host spaced."""

from __future__ import annotations

import pytest

from bot.config import FetchSettings
from bot.core.ingest import Refused
from bot.core.ingest.fetch import Fetcher
from tests.helpers import TEST_FETCH
from tests.newsroom import HINDI, SEEN, SPACE, news_page

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


def test_fetch_settings_are_checked():
    with pytest.raises(ValueError):
        FetchSettings(max_page_bytes=10)
