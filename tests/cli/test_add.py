"""`launchbot add`, `watch`, `remove` and `sources`: a knowledge base built from a saved page, a
link and a PDF answers the launch question set as the hand-written one does (issue 23's "done
when"), cites its links, and every refusal is one line on stderr with exit code 2."""

from __future__ import annotations

import json
import shutil

import pytest

from bot.cli.main import main
from tests.helpers import DEV_SET, KNOWLEDGE
from tests.newsroom import HINDI, SPACE, launch_pdf, news_page


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def imported(tmp_path):
    """An empty knowledge base (its aliases only: they are settings, not articles) and a polite,
    delay-free configuration for the test site."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(KNOWLEDGE / "aliases.yaml", knowledge)
    config = tmp_path / "launchbot.yaml"
    fetch = "  contact: mailto:ops@example.org\n  host_delay_seconds: 0\n  allow_private_addresses: true\n"
    config.write_text("fetch:\n" + fetch, encoding="utf-8")
    return ["--config", str(config), "--knowledge", str(knowledge), "--index", str(tmp_path / "index")]


def test_a_knowledge_base_brought_in_by_add_answers_as_the_hand_written_one(capsys, tmp_path, newsroom, imported):
    saved = tmp_path / "space.com article.html"  # the Space.com page as a browser saves it
    saved.write_text(news_page(SPACE), encoding="utf-8")
    pdf = tmp_path / "launch.pdf"
    pdf.write_bytes(launch_pdf())
    code, out, err = run(capsys, "add", str(saved), newsroom.url(HINDI.path), str(pdf), *imported)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith("added: ") for line in lines)
    assert "Space.com, 2018-11-20, en, " in lines[0] and " chunks (id this-astronaut-video" in lines[0]
    assert "Vigyan Samachar, 2020-10-05, hi" in lines[1]

    code, out, _ = run(capsys, "eval", str(DEV_SET), "--first-quote", "--min-hit", "1", "--min-abstain", "1", *imported)
    assert code == 0, out
    assert "answerable: 9/9" in out and "unanswerable: 3/3" in out and "first quote: 9/9" in out

    code, out, _ = run(capsys, "ask", "--json", "How much cargo did Progress MS-10 bring to the ISS?", *imported)
    answer = json.loads(out)
    assert answer["answered"] and SPACE.canonical in {source["url"] for source in answer["sources"]}

    code, out, _ = run(capsys, "sources", *imported)
    assert "Space.com, published 2018-11-20 · added " in out and " via file · " + SPACE.canonical in out
    assert " via link · " + HINDI.canonical in out

    code, out, _ = run(capsys, "add", str(saved), *imported)
    assert code == 0 and out.startswith("unchanged: ")


def test_refusals_are_one_line_each_on_stderr_and_exit_2(capsys, newsroom, imported):
    code, out, err = run(capsys, "add", newsroom.url("/missing"), newsroom.url("/gallery"), *imported)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"launchbot: not added: {newsroom.url('/missing')} answered 404 NOT FOUND",
        err.splitlines()[1],
    ]
    assert "no article text in" in err.splitlines()[1]
    code, _, err = run(capsys, "remove", "no-such-article", *imported)
    assert code == 2 and "no document with the id 'no-such-article'" in err


def test_watch_without_feeds_says_where_it_looked(capsys, imported):
    code, out, _ = run(capsys, "watch", *imported)
    assert code == 0 and "no feeds listed in" in out and "feeds.yaml" in out
