import os
from pathlib import Path

import pytest

from bot.core.ingest.knowledge import load_documents, parse_document
from tests.helpers import KNOWLEDGE, REPO

SEEDS = REPO.parent / "shared" / "seeds"


def test_the_three_articles_load_with_metadata():
    result = load_documents(KNOWLEDGE)
    assert result.errors == []
    by_id = {doc.doc_id: doc for doc in result.documents}
    assert sorted(doc.language for doc in by_id.values()) == ["en", "en", "hi"]
    space = by_id["astronaut-video-space-com"]
    assert space.publisher == "Space.com" and space.author == "Elizabeth Howell"
    assert space.title.startswith("This Astronaut Video")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared/seeds is not beside this checkout")
def test_article_text_is_verbatim_seed_text():
    bodies = sorted(doc.text for doc in load_documents(KNOWLEDGE).documents)
    seeds = sorted(path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt"))
    assert bodies == seeds


def test_plain_text_without_front_matter_takes_title_from_first_line(tmp_path: Path):
    (tmp_path / "note.txt").write_text("\nLaunch recap\nThe rocket flew.\n", encoding="utf-8")
    (tmp_path / "page.md").write_text("# A heading\n\nBody.\n", encoding="utf-8")
    docs = {d.doc_id: d for d in load_documents(tmp_path).documents}
    assert docs["note"].title == "Launch recap"
    assert docs["page"].title == "A heading"
    assert docs["note"].text == "\nLaunch recap\nThe rocket flew.\n"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bad-yaml.md", b"---\ntitle: [unclosed\n---\nText.\n", "invalid YAML front matter"),
        ("not-mapping.md", b"---\n- a list\n---\nText.\n", "front matter must be a mapping"),
        ("unclosed.md", b"---\ntitle: x\nText without a closing fence.\n", "not closed"),
        ("latin1.md", "Caf\u00e9 launch".encode("latin-1"), "not UTF-8"),
        ("empty.md", b"---\ntitle: Empty\n---\n  \n", "empty document"),
        ("blob.txt", b"abc\x00\x01\x02", "binary file"),
        ("huge.txt", b"word " * 2000, "too large"),
        ("image.png", b"\x89PNG", "unsupported file type"),
        ("nested.md", b"---\ntitle: {a: 1}\n---\nText.\n", "must be text"),
    ],
)
def test_a_broken_document_is_reported_and_the_rest_still_load(tmp_path: Path, name, content, reason):
    (tmp_path / "good.md").write_text("---\ntitle: Good\n---\nThe launch went well.\n", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    result = load_documents(tmp_path, max_bytes=5000)
    assert [doc.doc_id for doc in result.documents] == ["good"]
    assert len(result.errors) == 1
    assert result.errors[0].path.endswith(name)
    assert reason in result.errors[0].reason


def test_missing_knowledge_directory_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_documents(tmp_path / "nowhere")


def test_content_hash_changes_with_the_bytes():
    a = parse_document(b"Text one.", doc_id="a", path="a.txt", markdown=False)
    b = parse_document(b"Text two.", doc_id="a", path="a.txt", markdown=False)
    assert a.sha256 != b.sha256


GOOD = "---\ntitle: Good\n---\nThe launch went well.\n"


def test_a_file_name_that_is_not_utf8_is_skipped_and_named(tmp_path: Path):
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    fd = os.open(os.fsencode(tmp_path) + b"/caf\xe9.md", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"Text of a file whose name is Latin-1.\n")
    os.close(fd)
    result = load_documents(tmp_path)
    assert [doc.doc_id for doc in result.documents] == ["good"]
    [error] = result.errors
    assert "caf\\xe9.md" in error.path and "file name is not valid UTF-8" in error.reason
    error.path.encode("utf-8")  # printable and storable as it is


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path):
    (tmp_path / "wide.txt").write_bytes("Launch recap\nThe rocket flew to the ISS.\n".encode("utf-16"))
    [doc] = load_documents(tmp_path).documents
    assert doc.title == "Launch recap" and "flew to the ISS" in doc.text


def test_utf16_without_a_byte_order_mark_is_named_not_called_binary(tmp_path: Path):
    (tmp_path / "wide.txt").write_bytes("The rocket flew to the ISS.\n".encode("utf-16-le"))
    [error] = load_documents(tmp_path).errors
    assert "UTF-16" in error.reason and "binary" not in error.reason


def test_symlink_loops_and_dangling_links_are_named(tmp_path: Path):
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "loop.md").symlink_to("loop.md")
    (tmp_path / "gone.md").symlink_to("nowhere.md")
    result = load_documents(tmp_path)
    assert [doc.doc_id for doc in result.documents] == ["good"]
    reasons = {Path(error.path).name: error.reason for error in result.errors}
    assert "symlink loop" in reasons["loop.md"]
    assert "broken symlink" in reasons["gone.md"]


def test_a_huge_title_is_capped(tmp_path: Path):
    (tmp_path / "long.md").write_text(f"---\ntitle: {'T' * 10_000}\nauthor: {'A' * 5000}\n---\nText.\n")
    [doc] = load_documents(tmp_path).documents
    assert len(doc.title) <= 200 and doc.title.endswith("…")
    assert len(doc.author) <= 200
