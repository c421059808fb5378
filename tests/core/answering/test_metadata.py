"""Questions about the articles themselves, answered from their details: the byline quoted from the
text, the outlet from the front matter, a detail the articles do not record declined as such."""

from __future__ import annotations

from bot.core.engine import Engine
from tests.helpers import outside_quotes


def test_who_wrote_an_article_is_answered_from_its_byline(launch_engine: Engine):
    answer = launch_engine.answer("Who wrote the Space.com story?")
    assert answer.answered and answer.basis == "details"
    assert answer.text == "“Elizabeth Howell” [1]"
    source = answer.sources[0]
    assert source.kind == "text"  # the byline is in the article's text: quoted from there, verbatim
    assert launch_engine.index.documents[source.doc_id].text[source.start : source.end] == "Elizabeth Howell"


def test_which_outlet_is_answered_from_the_front_matter(launch_engine: Engine):
    answer = launch_engine.answer("Which outlet published the story about the astronaut video?")
    assert answer.answered and answer.basis == "details"
    assert answer.text == "“Space.com” [1]" and answer.sources[0].kind == "detail"


def test_a_detail_the_articles_do_not_record_is_declined_as_such(launch_engine: Engine):
    answer = launch_engine.answer("When was the story published?")
    assert not answer.answered and answer.basis == "details"
    assert "publication date" in answer.text


def test_which_articles_the_bot_has(launch_engine: Engine):
    answer = launch_engine.answer("Which articles do you have?")
    assert answer.answered and len(answer.sources) == 3
    assert {s.quote for s in answer.sources} == {d.title for d in launch_engine.index.documents.values()}
    assert outside_quotes(answer.text) == ""
