"""A question a moderator's note was written for is answered by quoting that note.

A note (``ingest/notes.py``) lists the questions it answers. A question that means the same as one of
them (``NOTE_MATCH``) is answered from the note's text, verbatim and cited like any passage, whatever
the articles' sentences score: a moderator wrote it for exactly that question, often because the
articles' best sentence was voted down. A question on the note's subject (``NOTE_NEAR``: another
wording, another language) goes the usual way, where the note's sentences compete as any passage's;
for any other question they are not candidates at all: a note on the Soyuz commander says
"Soyuz rocket" but answers nothing about its fuel. Closeness is measured on topic vectors, the ones
the gaps report groups questions by (``topic_vectors``): a question's own vector plus the vector of
its words the articles never use, so "Who was the Soyuz commander?" meets "Who commanded the Soyuz
rocket?" (0.80) but not "Who is the commander of Expedition 57?" (0.59), which the articles answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.answering.compose import Answer, quote_sentences
from bot.core.embed.embedding import Embedder
from bot.core.ingest.knowledge import NOTE
from bot.core.ingest.lexical import Lexicon, tokenize, unknown_words
from bot.core.store.index import KnowledgeIndex

logger = logging.getLogger(__name__)

# Cosine of topic vectors at which a question is one a note lists. Measured on the launch articles:
# paraphrases of a listed question 0.80-0.92; other questions on the same subject up to 0.77
# ("What was the temperature at Baikonur?" for a note on the weather), and 0.59 for the Expedition 57
# commander against the Soyuz commander. A Hindi wording of an English question scores 0.60-0.67:
# it is answered from the note only by the usual path (or by listing it in the note).
NOTE_MATCH = 0.80
# At or above this, a question is on a note's subject and the note's sentences may answer it the usual
# way (the Hindi wordings above; "Was it raining at Baikonur?" for the weather note: 0.68).
NOTE_NEAR = 0.62
OWN_FLOOR = 0.5  # below this cosine of the questions' own vectors, no need to compute the rest


def articles_lexicon(index: KnowledgeIndex) -> Lexicon:
    """The index's lexicon without its notes' chunks: the articles' vocabulary (a note on the
    weather must not make "weather" one of the articles' subjects)."""
    notes = {doc_id for doc_id, document in index.documents.items() if document.kind == NOTE}
    chunks = [tokenize(index.chunk_text(n)) for n, chunk in enumerate(index.chunks) if chunk.doc_id in notes]
    return index.lexicon.without(chunks) if chunks else index.lexicon


def topic_vectors(
    questions: Sequence[str], embedder: Embedder, lexicon: Lexicon, own: np.ndarray | None = None
) -> np.ndarray:
    """Unit vectors for comparing questions by what they ask: each question's own vector (``own``,
    when already computed) plus the vector of its words ``lexicon`` does not know."""
    if not questions:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    own = np.stack([embedder.encode_query(q) for q in questions]) if own is None else own
    asked = [unknown_words(q, lexicon) for q in questions]
    rest = np.stack([embedder.encode_query(a) if a.strip() else v for a, v in zip(asked, own, strict=True)])
    summed = own + rest
    return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class NoteAnswers:
    """The questions every note of an index lists, as topic vectors, and which note lists each."""

    embedder: Embedder
    lexicon: Lexicon
    doc_ids: list[str]
    own: np.ndarray  # the listed questions' own vectors
    vectors: np.ndarray  # their topic vectors

    @classmethod
    def for_index(cls, index: KnowledgeIndex, embedder: Embedder, lexicon: Lexicon) -> NoteAnswers | None:
        listed = [
            (doc_id, question)
            for doc_id, document in index.documents.items()
            if document.kind == NOTE
            for question in document.questions
        ]
        if not listed:
            return None
        questions = [question for _, question in listed]
        own = np.stack([embedder.encode_query(question) for question in questions])
        vectors = topic_vectors(questions, embedder, lexicon, own)
        return cls(embedder, lexicon, [doc_id for doc_id, _ in listed], own, vectors)

    @property
    def notes(self) -> set[str]:
        return set(self.doc_ids)

    def closeness(self, question: str) -> dict[str, float]:
        """How close ``question`` is to each note: its topic cosine to the nearest question the note
        lists (0 when their own vectors are too far apart to bother)."""
        own = self.embedder.encode_query(question)
        found = dict.fromkeys(self.doc_ids, 0.0)
        if float(np.max(self.own @ own)) < OWN_FLOOR:
            return found
        similarity = self.vectors @ topic_vectors([question], self.embedder, self.lexicon, own[None, :])[0]
        for doc_id, value in zip(self.doc_ids, similarity, strict=True):
            found[doc_id] = max(found[doc_id], float(value))
        return found


def answer_from_note(question: str, index: KnowledgeIndex, doc_id: str, similarity: float, budget: int) -> Answer:
    """The note's text, quoted from its start within ``budget`` characters, as the answer."""
    sentences = [n for n, sentence in enumerate(index.sentences) if sentence.doc_id == doc_id]
    logger.debug("question answered from note %s (topic cosine %.2f)", doc_id, similarity)
    return quote_sentences(question, index, sentences, similarity, budget)
