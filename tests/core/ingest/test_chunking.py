from bot.core.engine import Engine
from bot.core.ingest.chunking import chunk_documents, split_sentences
from bot.core.ingest.knowledge import Document, load_documents
from tests.helpers import KNOWLEDGE


def doc(text: str, doc_id: str = "d") -> Document:
    return Document(doc_id=doc_id, path=f"{doc_id}.md", title="t", text=text, sha256="0")


def texts(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_offsets_round_trip_to_verbatim_text():
    documents = load_documents(KNOWLEDGE).documents
    by_id = {d.doc_id: d for d in documents}
    chunking = chunk_documents(documents, size=300, overlap=100)
    assert chunking.chunks
    for chunk in chunking.chunks:
        chunk_text = by_id[chunk.doc_id].text[chunk.start : chunk.end]
        for sentence_id in chunk.sentences:
            sentence = chunking.sentences[sentence_id]
            assert sentence.doc_id == chunk.doc_id
            assert chunk.start <= sentence.start < sentence.end <= chunk.end
            assert by_id[sentence.doc_id].text[sentence.start : sentence.end] in chunk_text


def test_sentences_split_on_danda_and_question_marks():
    assert texts("पहला वाक्य। दूसरा वाक्य॥ क्या यह तीसरा है? हाँ.") == [
        "पहला वाक्य।",
        "दूसरा वाक्य॥",
        "क्या यह तीसरा है?",
        "हाँ.",
    ]


def test_abbreviations_and_numbers_do_not_end_sentences():
    text = "It left at 6:31 a.m. EST Dec. 3 (1131 GMT). Then Dr. Smith spoke. It cost 5.39 lakh."
    assert texts(text) == ["It left at 6:31 a.m. EST Dec. 3 (1131 GMT).", "Then Dr. Smith spoke.", "It cost 5.39 lakh."]


def test_sentences_never_cross_a_line_break():
    assert texts("A heading without a stop\nThe body starts here.") == [
        "A heading without a stop",
        "The body starts here.",
    ]


def test_page_furniture_and_trailers_are_not_indexed():
    text = (
        "Rocket news\n\nPicture 1 of Rocket news\n\nThe rocket flew to orbit.\n\n"
        "Follow us on Twitter @example.\n\nJane Doe\nStaff Writer\n\nJane Doe is a writer who loves rockets.\n"
    )
    chunking = chunk_documents([doc(text)])
    indexed = [text[s.start : s.end] for s in chunking.sentences]
    assert indexed == ["Rocket news", "The rocket flew to orbit."]
    assert chunking.furniture == 5


def test_exact_duplicates_are_indexed_once_across_documents():
    first = doc("The launch was a success. Crowds cheered.", "a")
    second = doc("The  launch was a SUCCESS. Something new.", "b")
    chunking = chunk_documents([first, second])
    assert chunking.duplicates == 1
    assert [s.doc_id for s in chunking.sentences] == ["a", "a", "b"]


def test_long_paragraphs_become_overlapping_chunks_within_size():
    sentences = [f"Sentence number {i} talks about the rocket launch in some detail." for i in range(30)]
    chunking = chunk_documents([doc(" ".join(sentences))], size=300, overlap=100)
    assert len(chunking.chunks) > 3
    for before, after in zip(chunking.chunks, chunking.chunks[1:], strict=False):
        assert after.end - after.start <= 300
        assert set(before.sentences) & set(after.sentences), "consecutive chunks should overlap"
    covered = {s for chunk in chunking.chunks for s in chunk.sentences}
    assert covered == set(range(len(chunking.sentences)))


def test_chunks_do_not_cross_paragraphs():
    chunking = chunk_documents([doc("First paragraph here.\n\nSecond paragraph here.")], size=800)
    assert len(chunking.chunks) == 2


def test_embedded_social_posts_are_not_indexed_but_the_article_around_them_is():
    text = (
        "The agency shared a video of the launch.\n"
        "This is what a launch looks like. pic.twitter.com/abc\n"
        "— Some Person (@someone) October 3, 2020\n"
        "The article goes on after the post.\n"
        "Space is fake, it is all graphics.\n"
        "— A Sceptic (@sceptic) October 4, 2020\n"
    )
    chunking = chunk_documents([doc(text)])
    indexed = [text[s.start : s.end] for s in chunking.sentences]
    assert indexed == ["The agency shared a video of the launch.", "The article goes on after the post."]


def test_every_line_of_a_post_in_another_script_is_left_out():
    text = (
        "लेख का पहला वाक्य यहाँ है.\n"
        "Great video!\n"
        "— A Person (@someone) October 3, 2020\n"
        "Anyways whatever the case, really awesome!\n"
        "The look is so amazing. Could someone explain?\n"
        "— Another Person (@another) October 3, 2020\n"
        "लेख यहाँ आगे चलता है.\n"
    )
    document = Document("d", "d.md", "d", text, "0", language="hi")
    chunking = chunk_documents([document])
    indexed = [text[s.start : s.end] for s in chunking.sentences]
    assert indexed == ["लेख का पहला वाक्य यहाँ है.", "लेख यहाँ आगे चलता है."]


def test_no_line_of_an_embedded_post_is_indexed(launch_engine: Engine):
    indexed = [launch_engine.index.sentence_text(i) for i in range(len(launch_engine.index.sentences))]
    for line in (
        "Anyways whatever the case, really awesome!",
        "The look is so amazing.",
        "This is what a rocket launch",
    ):
        assert not any(line in sentence for sentence in indexed), line
    assert any("Mashable" in sentence for sentence in indexed)  # the article text between posts stays
