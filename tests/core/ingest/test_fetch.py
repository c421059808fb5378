"""The polite fetcher (bot/core/ingest/fetch.py): a user agent naming the bot, robots.txt honoured,
requests to one host spaced, and public addresses only unless the settings allow others."""

from __future__ import annotations

import httpx
import pytest

from bot.config import FetchSettings
from bot.core.ingest import Refused
from bot.core.ingest.fetch import Fetcher, not_public, resolve_host
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


# --------------------------------------------------------------------------- public addresses only

PUBLIC_ONLY = TEST_FETCH.model_copy(update={"allow_private_addresses": False})  # the default
PUBLIC = "93.184.215.14"  # a public address, which the tests below pretend a name resolves to


def test_public_only_is_the_default():
    assert FetchSettings().allow_private_addresses is False


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 inside IPv6 is still 127.0.0.1
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # a cloud's metadata service
        ("fe80::1%eth0", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not global"),  # carrier-grade NAT: neither private nor public
        (PUBLIC, None),
        ("2606:4700::1111", None),
    ],
)
def test_every_address_that_is_not_public_is_named(address, kind):
    assert not_public(address) == kind


def test_by_default_the_test_sites_address_is_refused_before_any_request(newsroom, httpserver):
    fetcher = Fetcher(PUBLIC_ONLY)
    url = newsroom.url(SPACE.path)
    lines = []
    for address in (url, url.replace("127.0.0.1", "localhost"), url.replace("127.0.0.1", "[::ffff:127.0.0.1]")):
        with pytest.raises(Refused) as refused:
            fetcher.get(address)
        lines.append(line := str(refused.value))
        assert "\n" not in line and line.startswith(f"not fetching {address}: ")
        assert "is not a public address (loopback); " in line and line.endswith("(fetch.allow_private_addresses)")
    assert ": 127.0.0.1 is not" in lines[0] and ": localhost (127.0.0.1) is not" in lines[1]
    assert httpserver.log == []  # not even robots.txt was asked for
    assert Fetcher(TEST_FETCH).get(url).body  # allowed by the setting (as every other test here)


class PublicSite:
    """``news.example``, resolving to a public address, served by a mock transport that records
    every request: what a redirect to the machine beside the bot would reach."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes, self.requests = routes, []
        self.fetcher = Fetcher(PUBLIC_ONLY, transport=httpx.MockTransport(self.answer), resolve=self.resolve)

    @staticmethod
    def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC] if host == "news.example" else resolve_host(host, port)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        return self.routes.get(str(request.url), httpx.Response(404))


def test_a_redirect_to_a_private_address_is_refused_at_that_hop():
    inside = "http://127.0.0.1:5432/"
    site = PublicSite(
        {
            "http://news.example/story": httpx.Response(302, headers={"Location": "/moved"}),
            "http://news.example/moved": httpx.Response(301, headers={"Location": inside}),
        }
    )
    with pytest.raises(Refused) as refused:
        site.fetcher.get("http://news.example/story")
    assert str(refused.value) == (
        f"not fetching {inside} (http://news.example/story redirects there): 127.0.0.1 is not a public address "
        "(loopback); launchbot fetches from public addresses only (fetch.allow_private_addresses)"
    )
    assert not [url for url in site.requests if "127.0.0.1" in url]


def test_robots_txt_redirected_to_a_private_address_is_refused_too():
    """robots.txt's redirects are followed by the HTTP client itself: its request hook checks them."""
    site = PublicSite({"http://news.example/robots.txt": httpx.Response(301, headers={"Location": "http://10.0.0.7/"})})
    with pytest.raises(Refused, match=r"^not fetching http://10\.0\.0\.7/: 10\.0\.0\.7 is not a public address \("):
        site.fetcher.get("http://news.example/story")
    assert site.requests == ["http://news.example/robots.txt"]


def test_a_name_that_answers_from_a_private_address_after_the_check_is_refused(newsroom, httpserver):
    """DNS rebinding: the name resolves to a public address when checked, and the connection lands
    on 127.0.0.1. The address the connection reached is checked before the body is read."""
    fetcher = Fetcher(PUBLIC_ONLY, resolve=lambda host, port: [PUBLIC])
    with pytest.raises(Refused, match=r"localhost answered from 127\.0\.0\.1, not a public address \(loopback\)"):
        fetcher.get(newsroom.url(SPACE.path).replace("127.0.0.1", "localhost"))
    assert [request.path for request, _ in httpserver.log] == ["/robots.txt"]  # its answer left unread
