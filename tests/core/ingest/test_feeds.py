"""News feeds (bot/core/ingest/feeds.py): knowledge/feeds.yaml read with clear errors, polled with
conditional requests, and an item published after one poll answerable after the next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.ingest.feeds import FEEDS_FILE, load_feeds
from tests.helpers import snapshot
from tests.servers import free_port


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
    (knowledge / FEEDS_FILE).write_text(f"feeds:\n  - http://127.0.0.1:{free_port()}/rss\n")
    before = snapshot(knowledge)
    watched = library.watch_feeds()
    assert watched.outcomes == [] and len(watched.problems) == 1 and "cannot reach" in watched.problems[0]
    assert {k: v for k, v in snapshot(knowledge).items() if k != ".feeds-state.json"} == before
