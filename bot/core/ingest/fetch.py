"""A polite HTTP client: what launchbot fetches from other people's servers, and how.

Every request names the bot and, once ``fetch.contact`` is set, who runs it (``User-Agent:
launchbot/0.1.0 (news importer; +mailto:ops@example.org)``). Before a page is fetched its site's
robots.txt is read (RFC 9309, through ``urllib.robotparser``; kept an hour): a disallowed path is
refused, a robots.txt that answers 4xx allows everything, one that answers 5xx allows nothing until
it can be read. Requests to one host are spaced by ``fetch.host_delay_seconds`` (or the site's own
``Crawl-delay``, up to a minute). Redirects are followed by hand, each hop checked against robots.txt,
at most ``fetch.max_redirects`` of them, and a loop is named as one. A page larger than
``fetch.max_page_bytes`` is refused as soon as the cap is passed (by its Content-Length, or while it
streams), and one that takes longer than ``fetch.timeout_seconds`` in all is abandoned.

Only public addresses are fetched from, unless ``fetch.allow_private_addresses`` says otherwise: a
link in chat must not turn the bot into a way in to the machines beside it (a database on
127.0.0.1, a router on 192.168.0.1, a cloud's metadata service on 169.254.169.254). Every address
a host resolves to is checked (private, loopback, link-local, multicast, reserved, unspecified or
otherwise not global: refused), before each hop of a redirect chain and before every request the
client sends, robots.txt's own redirects included; and the address a connection actually reached is
checked again, so a name that resolves to another address a moment later gains nothing.

Every failure is ``Refused`` with one line: which address, and what went wrong.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies
from urllib.robotparser import RobotFileParser

import httpx

from bot.config import FetchSettings
from bot.core.ingest import Refused

logger = logging.getLogger(__name__)

PRODUCT = "launchbot"  # the token robots.txt rules name
HTML = ("text/html", "application/xhtml+xml")
PDF = ("application/pdf",)
TEXT = ("text/plain",)
FEEDS = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
ARTICLES = HTML + PDF + TEXT
UNLABELLED = ("", "application/octet-stream", "binary/octet-stream")  # sniffed from the first bytes
REDIRECTS = (301, 302, 303, 307, 308)
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB
ROBOTS_TTL = 3600.0
MAX_CRAWL_DELAY = 60.0
PORTS = {"http": 80, "https": 443}
NOT_PUBLIC = (  # the first that applies: 127.0.0.1 is private too, but "loopback" says more
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)
PUBLIC_ONLY = "launchbot fetches from public addresses only (fetch.allow_private_addresses)"


def user_agent(settings: FetchSettings) -> str:
    """``launchbot/0.1.0 (news importer; +mailto:ops@example.org)``: who is asking, and whom to tell."""
    try:
        version = metadata.version("launchbot")
    except metadata.PackageNotFoundError:
        version = "0"
    contact = f"; +{settings.contact}" if settings.contact else ""
    return f"{PRODUCT}/{version} (news importer{contact})"


@dataclass(frozen=True)
class Fetched:
    """A page as it arrived: ``url`` is where it was found after redirects."""

    requested: str
    url: str
    content_type: str  # the media type, lower case, without parameters ("" when the server sent none)
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # 304: the ETag / Last-Modified sent still hold


@dataclass
class _Robots:
    parser: RobotFileParser
    read_at: float


class Fetcher:
    """One per process: it keeps each site's robots.txt and when each host was last asked."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        resolve: Callable[[str, int], list[str]] | None = None,
    ) -> None:
        self.settings = settings
        self.clock, self.sleep = clock, sleep
        self.resolve = resolve or resolve_host
        self._direct = not getproxies()  # through a proxy, a connection reaches the proxy, not the host
        self.client = httpx.Client(
            headers={"User-Agent": user_agent(settings)},
            timeout=settings.timeout_seconds,
            follow_redirects=False,
            max_redirects=settings.max_redirects,
            transport=transport,
            event_hooks={"request": [self._check_request], "response": [self._check_peer]},
        )
        self._robots: dict[str, _Robots] = {}
        self._next_turn: dict[str, float] = {}  # host -> earliest time of its next request
        self._lock = threading.Lock()
        if not settings.contact:
            logger.info("fetch.contact is not set: sites cannot tell who runs this bot (%s)", user_agent(settings))

    def close(self) -> None:
        self.client.close()

    def get(
        self,
        url: str,
        *,
        accept: Iterable[str] = ARTICLES,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """The page at ``url``, or ``Refused`` saying why not. With ``etag`` / ``last_modified`` the
        request is conditional, and an unchanged page comes back as ``not_modified``."""
        accept = tuple(accept)
        conditions = {"If-None-Match": etag} if etag else {}
        if last_modified:
            conditions["If-Modified-Since"] = last_modified
        chain = [check_url(url)]
        while True:
            current = chain[-1]
            self._check_public(chain)
            self._check_robots(current)
            with self._request(current, conditions) as response:
                if response.status_code in REDIRECTS:
                    chain.append(self._next_hop(chain, response))
                    continue
                if response.status_code == 304 and conditions:
                    return Fetched(url, current, "", b"", etag, last_modified, not_modified=True)
                if response.status_code >= 400 or response.status_code < 200:
                    raise Refused(f"{current} answered {response.status_code} {response.reason_phrase}".rstrip())
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media not in accept and media not in UNLABELLED:
                    raise Refused(f"{current} is {media}, not {_kinds(accept)}")
                body = self._body(current, response)
                if media in UNLABELLED:
                    media = _sniff(current, body, accept)
                return Fetched(
                    url,
                    current,
                    media,
                    body,
                    response.headers.get("etag"),
                    response.headers.get("last-modified"),
                )

    def get_feed(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """An RSS or Atom feed, asked for conditionally: unchanged, it comes back ``not_modified``."""
        return self.get(url, accept=FEEDS, etag=etag, last_modified=last_modified)

    # ------------------------------------------------------------------ one request

    @contextlib.contextmanager
    def _request(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One GET, its body not yet read; a host that cannot be reached is ``Refused``."""
        host = urlsplit(url).netloc
        self._wait_turn(host)
        with contextlib.ExitStack() as stack:
            try:
                response = stack.enter_context(self.client.stream("GET", url, headers=headers))
            except httpx.TimeoutException:
                raise Refused(f"{host} did not answer within {self.settings.timeout_seconds:g} s") from None
            except httpx.HTTPError as exc:
                raise Refused(f"cannot reach {host}: {_reason(exc)}") from None
            yield response

    def _next_hop(self, chain: list[str], response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise Refused(f"{chain[-1]} redirects ({response.status_code}) without saying where to")
        target = check_url(urljoin(chain[-1], location))
        if target in chain:
            loop = " → ".join([*chain[chain.index(target) :], target])
            raise Refused(f"{chain[0]} redirects in a loop: {loop}")
        if len(chain) > self.settings.max_redirects:
            raise Refused(f"{chain[0]} redirects more than {self.settings.max_redirects} times (fetch.max_redirects)")
        return target

    def _body(self, url: str, response: httpx.Response, cap: int | None = None) -> bytes:
        """The body, read only up to the cap and within the timeout, whatever the server intends."""
        cap = cap or self.settings.max_page_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise Refused(f"{url} is {int(declared):,} bytes, over the {cap:,}-byte limit (fetch.max_page_bytes)")
        deadline = self.clock() + self.settings.timeout_seconds
        parts: list[bytes] = []
        size = 0
        try:
            for part in response.iter_bytes():
                size += len(part)
                if size > cap:
                    raise Refused(f"{url} is over the {cap:,}-byte limit (fetch.max_page_bytes)")
                if self.clock() > deadline:
                    raise Refused(f"{url} did not arrive within {self.settings.timeout_seconds:g} s")
                parts.append(part)
        except httpx.TimeoutException:
            raise Refused(f"{url} did not arrive within {self.settings.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise Refused(f"{url} broke off while sending the page ({_reason(exc)})") from None
        return b"".join(parts)

    def _wait_turn(self, host: str) -> None:
        """Space requests to one host by the per-host delay (or the site's Crawl-delay)."""
        robots = self._robots.get(host)
        delay = self.settings.host_delay_seconds
        if robots is not None:
            asked = robots.parser.crawl_delay(PRODUCT)
            if asked:
                delay = max(delay, min(float(asked), MAX_CRAWL_DELAY))
        with self._lock:
            now = self.clock()
            turn = max(now, self._next_turn.get(host, now))
            self._next_turn[host] = turn + delay
        if turn > now:
            self.sleep(turn - now)

    # ------------------------------------------------------------------ public addresses only

    def _check_public(self, chain: list[str]) -> None:
        """The hop about to be fetched (the last of ``chain``) goes to public addresses only."""
        parts = urlsplit(chain[-1])
        why = self._not_public(parts.hostname or "", parts.port or PORTS[parts.scheme])
        if why:
            hop = f" ({chain[0]} redirects there)" if len(chain) > 1 else ""
            raise Refused(f"not fetching {chain[-1]}{hop}: {why}; {PUBLIC_ONLY}")

    def _check_request(self, request: httpx.Request) -> None:
        """Before every request the client sends, those it follows by itself (robots.txt's) included."""
        url = request.url
        why = self._not_public(url.host, url.port or PORTS.get(url.scheme, 80))
        if why:
            raise Refused(f"not fetching {url}: {why}; {PUBLIC_ONLY}")

    def _check_peer(self, response: httpx.Response) -> None:
        """The address the connection reached, before a byte of the body is read: a name that
        resolved to a public address when checked may resolve to a private one when connecting."""
        if self.settings.allow_private_addresses or not self._direct:
            return
        stream = response.extensions.get("network_stream")
        peer = stream.get_extra_info("server_addr") if stream is not None else None
        kind = not_public(str(peer[0])) if peer else None
        if kind:
            url = response.request.url
            why = f"{url.host} answered from {peer[0]}, not a public address ({kind})"
            raise Refused(f"not fetching {url}: {why}; {PUBLIC_ONLY}")

    def _not_public(self, host: str, port: int) -> str | None:
        """Why ``host`` may not be fetched from (an address it resolves to is not public), or None."""
        if self.settings.allow_private_addresses:
            return None
        for address in self.resolve(host, port):
            kind = not_public(address)
            if kind:
                shown = "" if address == host else f" ({address})"
                return f"{host}{shown} is not a public address ({kind})"
        return None

    # ------------------------------------------------------------------ robots.txt

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        robots = self._robots.get(parts.netloc)
        if robots is None or self.clock() - robots.read_at > ROBOTS_TTL:
            robots = _Robots(self._read_robots(parts.scheme, parts.netloc), self.clock())
            self._robots[parts.netloc] = robots
        if not robots.parser.can_fetch(PRODUCT, url):
            raise Refused(f"{parts.netloc}'s robots.txt does not allow {PRODUCT} to fetch {parts.path or '/'}")

    def _read_robots(self, scheme: str, host: str) -> RobotFileParser:
        url = f"{scheme}://{host}/robots.txt"
        parser = RobotFileParser(url)
        self._wait_turn(host)
        try:
            with self.client.stream("GET", url, follow_redirects=True) as response:
                if 400 <= response.status_code < 500:
                    parser.allow_all = True  # RFC 9309: "unavailable" means no rules
                elif response.status_code >= 300:
                    raise Refused(
                        f"{host}'s robots.txt answered {response.status_code}: not fetching from {host} until "
                        "it can be read (RFC 9309)"
                    )
                else:
                    body = self._body(url, response, cap=ROBOTS_MAX_BYTES)
                    parser.parse(body.decode("utf-8", "replace").splitlines())
        except httpx.TooManyRedirects:
            raise Refused(f"{host}'s robots.txt redirects too often: not fetching from {host}") from None
        except httpx.TimeoutException:
            raise Refused(f"{host} did not answer within {self.settings.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise Refused(f"cannot reach {host}: {_reason(exc)}") from None
        parser.modified()
        return parser


def check_url(url: str) -> str:
    """``url`` if it is a web address launchbot may fetch (http or https, with a host and a valid port)."""
    parts = urlsplit(url.strip())
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, or over 65535
        port_ok = False
    if parts.scheme not in PORTS or not parts.hostname or not port_ok:
        raise Refused(f"not a web address (http:// or https://): {url[:200]}")
    return parts.geturl()


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP address resolves to itself)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot reach {host}: {_reason(exc)}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def not_public(address: str) -> str | None:
    """What kind of address that is not public ``address`` is ("loopback", "private", …); None when public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is not the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    kind = next((kind for kind, flag in NOT_PUBLIC if getattr(ip, flag)), None)
    return kind or (None if ip.is_global else "not global")


def _sniff(url: str, body: bytes, accept: tuple[str, ...]) -> str:
    """A media type for a page sent without one (or as octet-stream), from its first bytes."""
    head = body[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        media = "application/pdf"
    elif head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        media = "text/html"
    elif head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head:
        media = "application/xml"
    else:
        media = "application/octet-stream"
    if media not in accept:
        raise Refused(f"{url} is not {_kinds(accept)} (sent without a content type, and its bytes say {media})")
    return media


def _kinds(accept: tuple[str, ...]) -> str:
    kinds = []
    if set(accept) & set(HTML):
        kinds.append("an HTML page")
    if set(accept) & set(PDF):
        kinds.append("a PDF")
    if set(accept) & set(TEXT):
        kinds.append("plain text")
    if set(accept) & set(FEEDS):
        kinds.append("an RSS or Atom feed")
    return " or ".join(kinds) or "what was asked for"


def _reason(exc: Exception) -> str:
    """What went wrong, without Python's "[Errno 111]" prefixes: "Connection refused"."""
    text = str(exc) or type(exc).__name__
    while text.startswith("[Errno"):
        text = text.split("] ", 1)[-1]
    return text
