"""Bringing articles in (bot/core/ingest/importer.py): knowledge files written whole and each article
once (unchanged, updated, a duplicate), removal, and every refusal in one line with nothing changed.
Everything is fetched from the test site on 127.0.0.1 (tests/newsroom.py)."""

from __future__ import annotations

import pytest

from bot.core.ingest import Refused
from bot.core.ingest.importer import DUPLICATE, REFUSED, UNCHANGED, UPDATED
from bot.core.ingest.knowledge import load_documents
from tests.helpers import snapshot
from tests.newsroom import HINDI, SEEN, SPACE, bulletin_page
from tests.servers import free_port

EXTRA = "Plant scientists said the zucchini looked healthy and smelled like the ones grown on Earth."

# --------------------------------------------------------------------------- refusals


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
    closed = free_port()
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


# --------------------------------------------------------------------------- the same article once


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
