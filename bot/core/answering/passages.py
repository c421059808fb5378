"""Where a sentence sits in its article: its neighbours, the sentences that read with it as one
passage, and, for one that opens with a pronoun ("He set a camera…"), the sentence before it that
names whom it means. Scoring reads these, and composing quotes by them.
"""

from __future__ import annotations

import regex

from bot.core.store.index import KnowledgeIndex

# A sentence opening with one of these leans on the sentence before it for its subject.
_PRONOUN_START = regex.compile(
    r"^[\"'“‘(]*(?:he|she|it|they|his|her|its|their|this|these|those|that|them|him|there|such|the latter|the former)\b"
    r"(?![\p{L}-])",
    regex.IGNORECASE,
)


def opens_with_pronoun(text: str) -> bool:
    return bool(_PRONOUN_START.match(text))


def neighbours(index: KnowledgeIndex, sentence_id: int) -> list[int]:
    """The sentences just before and after, in the same document."""
    doc_id = index.sentences[sentence_id].doc_id
    return [
        n
        for n in (sentence_id - 1, sentence_id + 1)
        if 0 <= n < len(index.sentences) and index.sentences[n].doc_id == doc_id
    ]


def antecedent(index: KnowledgeIndex, sentence_id: int) -> int | None:
    """The sentence before, when ``sentence_id`` opens with a pronoun and that one is indexed text of
    the same paragraph (nothing but spaces between them)."""
    if sentence_id == 0 or not opens_with_pronoun(index.sentence_text(sentence_id)):
        return None
    return sentence_id - 1 if adjacent(index, sentence_id - 1, sentence_id) else None


def adjacent(index: KnowledgeIndex, first: int, second: int) -> bool:
    """Whether two sentences follow each other in one paragraph (only spaces between them)."""
    a, b = index.sentences[first], index.sentences[second]
    if a.doc_id != b.doc_id:
        return False
    gap = index.documents[a.doc_id].text[a.end : b.start]
    return "\n" not in gap and not gap.strip()


def runs(index: KnowledgeIndex, ids: list[int]) -> list[list[int]]:
    """Sorted sentence ids grouped into runs that read as one passage (adjacent, same paragraph)."""
    grouped: list[list[int]] = []
    for sentence_id in ids:
        if grouped and grouped[-1][-1] == sentence_id - 1 and adjacent(index, sentence_id - 1, sentence_id):
            grouped[-1].append(sentence_id)
        else:
            grouped.append([sentence_id])
    return grouped
