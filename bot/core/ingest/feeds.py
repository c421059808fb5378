"""News feeds: ``knowledge/feeds.yaml`` lists RSS and Atom feeds whose new articles are brought in.

```yaml
feeds:
  - url: https://www.example.com/space/rss.xml
    name: Example Space News        # optional: the feed's own title otherwise
    keywords: [Progress, Soyuz, ISS]  # optional: only items whose title, summary or tags name one
```

A poll asks each feed conditionally (``If-None-Match`` / ``If-Modified-Since`` with what the last
answer sent): an unchanged feed costs the site a 304 and nothing else. Feeds are parsed by
feedparser. An item is new until it has been brought in (added, unchanged or a duplicate); one that
could not be (its site was down) is tried again at the next polls, ``MAX_TRIES`` times in all. What
the polls have seen is kept on disk beside the feeds (``.feeds-state.json``, hidden so the knowledge
base never loads it), and saved only once the items it marks are in the index.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.core.ingest import Refused
from bot.core.ingest.importer import FEED, REFUSED, Importer, Outcome, Request, write_atomically

if TYPE_CHECKING:  # the HTTP client is imported when the first page is fetched, not with the engine
    from bot.core.ingest.fetch import Fetcher

logger = logging.getLogger(__name__)

FEEDS_FILE = "feeds.yaml"
STATE_FILE = ".feeds-state.json"
MAX_TRIES = 3
MAX_SEEN = 5000  # item ids remembered per feed (a feed lists its latest few dozen)


@dataclass(frozen=True)
class Feed:
    url: str
    name: str | None = None
    keywords: tuple[str, ...] = ()

    def wants(self, text: str) -> bool:
        """No keywords: every item; else items naming any keyword as a whole word, any case."""
        if not self.keywords:
            return True
        return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) for word in self.keywords)


@dataclass(frozen=True)
class FeedItem:
    feed: str  # the feed's name
    feed_url: str
    item_id: str
    link: str
    title: str
    published: str | None = None  # YYYY-MM-DD, the feed's date for it


@dataclass
class FeedState:
    """What the polls have seen, per feed URL: the validators to send back, items brought in, and
    items that failed with their number of tries."""

    path: Path
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FeedState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            feeds = data.get("feeds", {}) if isinstance(data, dict) else {}
        except FileNotFoundError:
            feeds = {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring %s (%s): every feed is asked afresh", path, exc)
            feeds = {}
        return cls(path, feeds if isinstance(feeds, dict) else {})

    def of(self, url: str) -> dict[str, Any]:
        return self.feeds.setdefault(url, {"seen": [], "retry": {}})

    def save(self) -> None:
        text = json.dumps({"feeds": self.feeds}, ensure_ascii=False, indent=1)
        write_atomically(self.path, text.encode("utf-8"))


@dataclass
class Poll:
    """One poll's findings: the new items, feeds that were unchanged, and feeds that failed."""

    items: list[FeedItem] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_feeds(path: Path) -> list[Feed]:
    """The feeds listed in ``path`` (none if it does not exist); a broken file raises ValueError
    naming what is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the feeds ({exc})") from None
    entries = (data or {}).get("feeds", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected 'feeds:' followed by a list of feeds, each with a 'url'")
    feeds = []
    for number, entry in enumerate(entries, 1):
        entry = {"url": entry} if isinstance(entry, str) else entry
        url = entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{path}: feed {number} needs a 'url' starting with http:// or https://")
        keywords = entry.get("keywords") or []
        if isinstance(keywords, str):
            keywords = [keywords]
        if not isinstance(keywords, list) or not all(isinstance(word, str) and word.strip() for word in keywords):
            raise ValueError(f"{path}: feed {number}: 'keywords' must be a list of words")
        feeds.append(Feed(url, entry.get("name") or None, tuple(word.strip() for word in keywords)))
    return feeds


def poll(feeds: list[Feed], fetcher: Fetcher, state: FeedState) -> Poll:
    """Ask every feed once and collect its new, wanted items; updates ``state``'s validators in
    memory (the caller saves it once the items are in)."""
    found = Poll()
    for feed in feeds:
        memory = state.of(feed.url)
        try:
            page = fetcher.get_feed(feed.url, etag=memory.get("etag"), last_modified=memory.get("modified"))
        except Refused as refused:
            found.problems.append(f"feed {feed.name or feed.url}: {refused}")
            items = []
        else:
            if page.not_modified:
                found.unchanged.append(feed.url)
                items = []
            else:
                try:
                    items = _items(feed, page.body)
                except Refused as refused:
                    found.problems.append(f"feed {feed.name or feed.url}: {refused}")
                    continue
                memory["etag"], memory["modified"] = page.etag, page.last_modified
        seen = set(memory["seen"])
        retry = memory["retry"]
        fresh = [item for item in items if item.item_id not in seen and item.item_id not in retry]
        waiting = [_stored_item(record) for record in retry.values() if isinstance(record, dict)]
        found.items.extend(fresh + [item for item in waiting if item.item_id not in {i.item_id for i in fresh}])
    return found


def record(state: FeedState, item: FeedItem, brought_in: bool) -> None:
    """Remember an item: brought in (never asked for again), or failed (tried again, up to MAX_TRIES)."""
    memory = state.of(item.feed_url)
    retry = memory["retry"]
    if brought_in:
        retry.pop(item.item_id, None)
        memory["seen"] = [*memory["seen"], item.item_id][-MAX_SEEN:]
        return
    tries = retry.get(item.item_id, {}).get("tries", 0) + 1
    if tries >= MAX_TRIES:
        retry.pop(item.item_id, None)
        memory["seen"] = [*memory["seen"], item.item_id][-MAX_SEEN:]
        logger.info("giving up on feed item %s after %d tries", item.link, tries)
    else:
        retry[item.item_id] = {**item.__dict__, "tries": tries}


def _stored_item(record: dict[str, Any]) -> FeedItem:
    return FeedItem(**{key: value for key, value in record.items() if key != "tries"})


def _items(feed: Feed, body: bytes) -> list[FeedItem]:
    import feedparser

    parsed = feedparser.parse(body)
    if not parsed.entries and (parsed.bozo or not parsed.feed):
        reason = getattr(parsed, "bozo_exception", None) or "no items"
        raise Refused(f"{feed.url} is not a readable RSS or Atom feed ({str(reason)[:200]})")
    name = feed.name or parsed.feed.get("title") or feed.url
    items = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        tags = " ".join(tag.get("term", "") for tag in entry.get("tags", []))
        if not feed.wants(f"{entry.get('title', '')} {entry.get('summary', '')} {tags}"):
            continue
        published = entry.get("published_parsed") or entry.get("updated_parsed")
        items.append(
            FeedItem(
                feed=name,
                feed_url=feed.url,
                item_id=entry.get("id") or link,
                link=link,
                title=entry.get("title", link),
                published=time.strftime("%Y-%m-%d", published) if published else None,
            )
        )
    return items


@dataclass
class Watched:
    """One ``launchbot watch``: each new item and what became of it, and what went wrong."""

    feeds: int
    outcomes: list[tuple[FeedItem, Outcome]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        added = sum(outcome.changed for _, outcome in self.outcomes)
        return (
            f"{self.feeds} feed(s) polled: {len(self.outcomes)} new item(s), {added} added or updated, "
            f"{len(self.unchanged)} feed(s) unchanged since the last poll"
            + (f", {len(self.problems)} problem(s)" if self.problems else "")
        )


def watch_once(importer: Importer, update_index: Callable[[], object]) -> Watched:
    """Poll every feed of the importer's knowledge directory once, bring the new items in, update
    the index, then save what was seen (a failed update saves nothing: the next poll tries again)."""
    directory = importer.knowledge_dir
    feeds = load_feeds(directory / FEEDS_FILE)
    if importer.fetcher is None:
        raise ValueError("watching feeds needs a fetcher")
    state = FeedState.load(directory / STATE_FILE)
    found = poll(feeds, importer.fetcher, state)
    requests = [
        Request(item.link, via=FEED, feed=item.feed, defaults={"published": item.published, "title": item.title})
        for item in found.items
    ]
    outcomes = importer.prepare(requests)
    importer.apply(outcomes, update_index)
    for item, outcome in zip(found.items, outcomes, strict=True):
        record(state, item, outcome.status != REFUSED)
    if feeds:
        state.save()
    return Watched(len(feeds), list(zip(found.items, outcomes, strict=True)), found.unchanged, found.problems)
