"""Stage 2 of answering: read the question as the articles will be searched for it.

Question words that neither the articles nor a common-English dictionary know are corrected to the
articles' vocabulary (``typos``); the terms are widened with every alias for retrieval and folded to
one term per alias group for overlap (``aliases``); and the kind of answer asked for is noted
(``answer_types``). A follow-up's context (``conversation``) joins the query below its own words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.core.answering import answer_types
from bot.core.answering.aliases import Aliases
from bot.core.answering.conversation import Context
from bot.core.answering.retrieval import Query, Retriever
from bot.core.answering.typos import Speller
from bot.core.ingest.lexical import Lexicon
from bot.core.store.index import KnowledgeIndex

NO_ALIASES = Aliases()


@dataclass(frozen=True)
class Asked:
    """The question as the bot reads it. ``query`` goes to retrieval (its terms expanded with every
    alias); ``terms`` are for overlap (each alias group one term, scored by ``lexicon``)."""

    text: str
    query: Query
    terms: list[str]
    lexicon: Lexicon
    types: tuple[str, ...]
    kind: str
    aliases: Aliases = NO_ALIASES
    corrections: tuple[tuple[str, str], ...] = ()

    def sentence_terms(self, index: KnowledgeIndex, sentence_id: int) -> list[str]:
        """A sentence's terms as this question counts them (each alias group one term)."""
        return self.aliases.canonical(index.sentence_terms(sentence_id))


def read_question(
    text: str,
    retriever: Retriever,
    aliases: Aliases = NO_ALIASES,
    speller: Speller | None = None,
    context: Context | None = None,
) -> Asked:
    corrected = speller.correct(text) if speller else None
    reading = corrected.text if corrected else text
    query = retriever.query(reading, context)
    own = query.terms
    # A follow-up's context terms come unfolded from earlier quotes: fold nothing, so they still meet
    # the sentences' own words (aliases then only widen retrieval).
    folding = aliases if not query.context_terms else NO_ALIASES
    query = replace(query, terms=aliases.expand(own))
    return Asked(
        text=reading,
        query=query,
        terms=folding.canonical(own),
        lexicon=folding.lexicon(retriever.index.lexicon),
        types=answer_types.asked_types(reading),
        kind=answer_types.question_kind(reading),
        aliases=folding,
        corrections=corrected.changes if corrected else (),
    )
