"""The three launch articles as a news site would serve them, for the importer's tests on 127.0.0.1.

Each page wraps the article's text (the same as ``knowledge/*.md``) in what real news pages carry
around it: a cookie banner, navigation, a share bar, an embedded social post, related links, a
newsletter box, comments and a footer. The Hindi article's quoted tweets become the embedded posts
they were. ``FURNITURE`` lists a phrase of each piece, none of which may reach a knowledge file.
Also here: the launch article as a PDF (fpdf2), an RSS feed, and the site's robots.txt.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from bot.core.ingest.chunking import _ATTRIBUTION, _FURNITURE
from bot.core.ingest.knowledge import Document, parse_document
from bot.core.ingest.lexical import latin_share

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"

FURNITURE = [
    "We use cookies",
    "Accept all cookies",
    "Science & Astronomy",
    "Share on Facebook",
    "Amazing view of the Soyuz climbing",  # the embedded post added to the English pages
    "Related stories",
    "SpaceX Dragon splashes down",
    "Sign up for our newsletter",
    "Great video, thanks for sharing",
    "which camera lens",
    "All rights reserved",
    "pic.twitter.com",  # the Hindi article's embedded posts
    "This is what a rocket launch looks like from space",
    "(@ValaAfshar) October 3, 2020",
]
ROBOTS = "User-agent: launchbot\nDisallow: /private/\n\nUser-agent: *\nDisallow: /admin/\n"


@dataclass(frozen=True)
class Story:
    """One launch article and how its outlet serves it."""

    file: str
    path: str  # where the test site serves it
    site: str
    author: str
    published: str
    language: str
    canonical: str

    @property
    def document(self) -> Document:
        return parse_document((KNOWLEDGE / self.file).read_bytes(), doc_id=self.file[:-3], path=self.file)

    @property
    def headline(self) -> str:
        return self.document.title

    def body(self) -> list[str]:
        """The article's lines without the headline the hand-written file opens with."""
        text = self.document.text
        lines = text.split("\n")
        return lines[1:] if lines[0].strip() == self.headline else lines


SPACE = Story(
    "astronaut-video-space-com.md",
    "/news/astronaut-video-rocket-launch-from-space",
    "Space.com",
    "Elizabeth Howell",
    "2018-11-20",
    "en",
    "https://www.space.com/42506-astronaut-video-rocket-launch-from-space.html",
)
SEEN = Story(
    "launch-seen-from-space-en.md",
    "/science/launch-seen-from-space",
    "Orbit Daily",
    "Staff reporter",
    "2018-11-19",
    "en",
    "https://orbit-daily.example/science/launch-seen-from-space",
)
HINDI = Story(
    "rocket-launch-from-space-hi.md",
    "/vigyan/rocket-launch-space-se",
    "Vigyan Samachar",
    "Desk",
    "2020-10-05",
    "hi",
    "https://vigyan-samachar.example/rocket-launch-space-se",
)
STORIES = (SPACE, SEEN, HINDI)


def news_page(story: Story, *, canonical: str | None = None, extra: str = "") -> str:
    """A realistic article page; ``extra``: one more paragraph at the end (a changed article)."""
    return page(story, story.headline, _article_blocks(story), canonical=canonical, extra=extra)


def page(story: Story, headline: str, blocks: list[str], *, canonical: str | None = None, extra: str = "") -> str:
    e = html.escape
    blocks = list(blocks)
    if story.language == "en":  # an embedded post the article itself does not quote
        blocks.insert(
            2,
            '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">Amazing view of the Soyuz climbing to '
            'orbit, seen from the station! <a href="https://t.co/x">pic.twitter.com/xyz</a></p>&mdash; '
            "Orbit Fan (@orbitfan) November 20, 2018</blockquote>",
        )
    if extra:
        blocks.append(f"<p>{e(extra)}</p>")
    canonical = canonical or story.canonical
    return f"""<!DOCTYPE html>
<html lang="{story.language}"><head><meta charset="utf-8">
<title>{e(headline)} | {e(story.site)}</title>
<link rel="canonical" href="{e(canonical)}">
<meta property="og:site_name" content="{e(story.site)}">
<meta property="og:title" content="{e(headline)}">
<meta name="author" content="{e(story.author)}">
<meta property="article:published_time" content="{story.published}T09:30:00+00:00">
<script>window.dataLayer = [{{"page": "article"}}];</script>
</head><body>
<div id="cookie-consent" class="cookie-banner"><p>We use cookies to improve your experience and to show you
personalised adverts. By continuing to browse this site you agree to our use of cookies and our privacy policy,
which you can read at any time.</p><button>Accept all cookies</button><button>Manage settings</button></div>
<header><a class="logo" href="/">{e(story.site)}</a><nav><ul><li><a href="/">Home</a></li>
<li><a href="/news">News</a></li><li><a href="/science">Science &amp; Astronomy</a></li>
<li><a href="/tech">Tech</a></li><li><a href="/night-sky">Night sky</a></li></ul></nav></header>
<main><article>
<h1>{e(headline)}</h1>
<p class="byline">By <a rel="author" href="/author">{e(story.author)}</a> ·
<time datetime="{story.published}">{story.published}</time></p>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a></div>
<div class="article-body">
{chr(10).join(blocks)}
</div></article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/a">SpaceX Dragon splashes down in the Atlantic after a record mission</a></li>
<li><a href="/b">Watch the northern lights dance over Iceland in a stunning new video</a></li>
<li><a href="/c">The best telescopes for beginners this winter</a></li></ul></aside>
<div class="newsletter"><h3>Sign up for our newsletter</h3><p>Get the best space news delivered to your inbox
every week.</p><form><input type="email"><button>Subscribe</button></form></div>
<section id="comments" class="comments"><h2>Comments (2)</h2>
<div class="comment"><p class="who">stargazer42</p><p>Great video, thanks for sharing! I watched it ten times
already and it still gives me chills.</p></div>
<div class="comment"><p class="who">lensfan</p><p>Does anyone know which camera lens he used for this one? The
colours are incredible.</p></div></section>
</main>
<footer><p>© 2018 {e(story.site)}. All rights reserved. Terms and conditions. Privacy policy.</p></footer>
</body></html>"""


def _article_blocks(story: Story) -> list[str]:
    """The body as HTML: paragraphs, a photo caption as a figure, quoted tweets as embedded posts."""
    e = html.escape
    latin = story.language == "en"
    blocks: list[str] = []
    pending: list[str] = []  # lines that may turn out to be a post's text
    for line in story.body():
        stripped = line.strip()
        if _ATTRIBUTION.match(stripped):
            post, own = [], []
            for earlier in reversed(pending):
                if post and (latin_share(earlier) > 0.5) == latin:
                    own.insert(0, earlier)
                else:
                    post.insert(0, earlier)
            blocks.extend(f"<p>{e(text)}</p>" for text in own)
            body = "<br>".join(e(text) for text in post)
            blocks.append(f'<blockquote class="twitter-tweet"><p lang="en">{body}</p>{e(stripped)}</blockquote>')
            pending = []
            continue
        if not stripped or (latin_share(stripped) <= 0.5 and not latin):
            blocks.extend(f"<p>{e(text)}</p>" for text in pending)
            pending = [stripped] if stripped else []
            continue
        if _FURNITURE.match(stripped):
            blocks.extend(f"<p>{e(text)}</p>" for text in pending)
            blocks.append(f'<figure><img src="/img/1.jpg" alt=""><figcaption>{e(stripped)}</figcaption></figure>')
            pending = []
            continue
        pending.append(stripped)
    blocks.extend(f"<p>{e(text)}</p>" for text in pending)
    return blocks


def launch_pdf(story: Story = SEEN) -> bytes:
    """The article as a one-column PDF, as a newsroom's "print" button makes it."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(story.headline)
    pdf.set_author(story.author)
    pdf.set_creation_date(datetime(2018, 11, 19, tzinfo=UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 8, story.headline, align="L")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    for paragraph in "\n".join(story.body()).split("\n\n"):
        if paragraph.strip():
            pdf.multi_cell(0, 5, " ".join(paragraph.split("\n")), align="L")
            pdf.ln(4)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


def rss(items: list[tuple[str, str, str, datetime]], title: str = "Orbit Daily: space") -> bytes:
    """An RSS 2.0 feed of (title, link, summary, published) items."""
    e = html.escape
    entries = "".join(
        f"<item><title>{e(name)}</title><link>{e(link)}</link><guid>{e(link)}</guid>"
        f"<description>{e(summary)}</description><pubDate>{format_datetime(when)}</pubDate></item>"
        for name, link, summary, when in items
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{e(title)}</title>'
        f"<link>https://orbit-daily.example/</link><description>Space news</description>{entries}</channel></rss>"
    ).encode()


BULLETINS = {
    "zucchini": (
        "Station crew harvests its first zucchini",
        "The Expedition 57 crew harvested zucchini grown in the Veggie greenhouse aboard the International Space "
        "Station on November 28. Alexander Gerst tended the plants for five weeks under red and blue lights. "
        "The harvest was frozen and will return to Earth for study by plant scientists in Florida.",
    ),
    "treadmill": (
        "Station treadmill repaired after a month",
        "Serena Auñón-Chancellor replaced a worn belt on the station's treadmill on December 1, ending a month "
        "in which the crew exercised only on the bicycle and the weight machine. The repair took four hours and "
        "used a spare belt delivered by Progress MS-10 to the International Space Station.",
    ),
}


def bulletin_page(key: str, url: str) -> str:
    """A short news item of the kind a feed announces (text not in the launch articles)."""
    headline, text = BULLETINS[key]
    story = Story("", "", "Orbit Daily", "Staff reporter", "2018-12-01", "en", url)
    return page(story, headline, [f"<p>{html.escape(text)}</p>"])


GALLERY = """<!DOCTYPE html><html lang="en"><head><title>Launch gallery | Orbit Daily</title></head><body>
<div class="cookie-banner"><p>We use cookies to improve your experience. By continuing to browse you accept our
cookie policy and the use of cookies by our advertising partners.</p><button>Accept all cookies</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav></header>
<main><div class="gallery"><img src="/img/1.jpg" alt="Soyuz"><img src="/img/2.jpg" alt="Baikonur"></div>
<aside class="related"><h2>Related stories</h2><ul><li><a href="/a">SpaceX Dragon splashes down</a></li></ul></aside>
</main><footer><p>© 2018 Orbit Daily. All rights reserved.</p></footer></body></html>"""


class Newsroom:
    """The test site on 127.0.0.1 (pytest-httpserver): the three stories, a mirror of one, the PDF,
    a feed whose items tests publish, and one address for each way a page can be refused."""

    def __init__(self, server) -> None:
        self.server = server
        self.extra: dict[str, str] = {}  # path -> a paragraph added since (a changed article)
        self.feed_items: list[tuple[str, str, str, datetime]] = []
        self.feed_requests: list[dict[str, str]] = []

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def open(self) -> Newsroom:
        from werkzeug import Response

        s = self.server
        html_type = "text/html; charset=utf-8"
        s.expect_request("/robots.txt").respond_with_data(ROBOTS, content_type="text/plain")
        for story in STORIES:
            s.expect_request(story.path).respond_with_handler(
                lambda request, story=story: Response(
                    news_page(story, extra=self.extra.get(story.path, "")), content_type=html_type
                )
            )
        mirror = self.url("/mirror/astronaut-video")
        s.expect_request("/mirror/astronaut-video").respond_with_data(
            news_page(SPACE, canonical=mirror), content_type=html_type
        )
        for key in BULLETINS:
            s.expect_request(f"/bulletins/{key}").respond_with_data(
                bulletin_page(key, self.url(f"/bulletins/{key}")), content_type=html_type
            )
        s.expect_request("/print/launch.pdf").respond_with_data(launch_pdf(), content_type="application/pdf")
        s.expect_request("/private/draft").respond_with_data(news_page(SEEN), content_type=html_type)
        s.expect_request("/missing").respond_with_data("Not found", status=404)
        s.expect_request("/broken").respond_with_data("Internal error", status=500)
        s.expect_request("/loop/a").respond_with_data("", status=302, headers={"Location": "/loop/b"})
        s.expect_request("/loop/b").respond_with_data("", status=302, headers={"Location": "/loop/a"})
        for hop in range(10):
            s.expect_request(f"/hop/{hop}").respond_with_data("", status=301, headers={"Location": f"/hop/{hop + 1}"})
        s.expect_request("/photo.jpg").respond_with_data(b"\xff\xd8\xff\xe0" + bytes(2000), content_type="image/jpeg")
        s.expect_request("/huge").respond_with_data("<html><p>" + "word " * 100_000, content_type=html_type)
        s.expect_request("/huge-stream").respond_with_handler(
            lambda request: Response((b"<p>" + b"word " * 1000 for _ in range(200)), content_type=html_type)
        )
        s.expect_request("/gallery").respond_with_data(GALLERY, content_type=html_type)
        s.expect_request("/damaged.pdf").respond_with_data(b"%PDF-1.4\n1 0 obj garbage", content_type="application/pdf")
        s.expect_request("/feed.xml").respond_with_handler(self._feed)
        return self

    def publish(self, title: str, path: str, summary: str, when: datetime) -> None:
        self.feed_items.insert(0, (title, self.url(path), summary, when))

    def _feed(self, request):
        import hashlib

        from werkzeug import Response

        self.feed_requests.append(dict(request.headers))
        body = rss(self.feed_items)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="application/rss+xml", headers={"ETag": etag})
