"""Extractive answers: pick the sentences of the retrieved passages that answer, quote them verbatim.

The bot never writes a claim of its own: the direct answer is made only of source sentences, each
quote followed by its citation number, and every source carries the verbatim ``quote`` it was taken
from. ``answer_question`` walks a question down six stages, once, each a module of its own handing
the next a small typed object:

1. **clean** (``question``): the question normalised, or refused with a reason; a question about
   the articles themselves (who wrote one, which outlet) is answered from their details instead
   (``metadata``), and one a moderator's note was written for from that note (``notes``);
2. **read** (``reading``) -> ``Asked``: spell-corrected against the articles' vocabulary, its terms
   folded through the maintainers' aliases, the kind of answer asked for noted;
3. **gather** (``candidates``) -> ``Candidate`` list: the sentences of the best passages;
4. **score** (``scoring``) -> ``Scored`` list, best first: relevance, and the learned ranking;
   then **read** (``reader``): a trained cross-encoder reads the best 16 with the question, and
   they are ranked again with what it says (its logit leads that second ranking);
5. **decide** (``decision``) -> ``Decision``: whether the best sentence answers at all, by the
   calibrated answerability model (``answerability``);
6. **compose** (``compose``) -> ``Answer``: the answer-holding sentence first, further quotes in
   document order, numbered sources; or a decline pointing at the closest passage.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.answering import metadata
from bot.core.answering.aliases import Aliases
from bot.core.answering.answerability import Decider
from bot.core.answering.candidates import gather_candidates
from bot.core.answering.compose import DECLINE, Answer, compose_answer, decline
from bot.core.answering.conversation import Context
from bot.core.answering.decision import decide
from bot.core.answering.notes import NOTE_MATCH, NOTE_NEAR, NoteAnswers, answer_from_note
from bot.core.answering.question import clean_question
from bot.core.answering.ranking import HAND_SET, Ranking
from bot.core.answering.reader import Reader, read_candidates
from bot.core.answering.reading import NO_ALIASES, read_question
from bot.core.answering.retrieval import Retriever
from bot.core.answering.scoring import score_sentences
from bot.core.answering.typos import Speller
from bot.core.store.index import KnowledgeIndex

RELEVANCE_ONLY = Decider(None, 0.30)  # no calibration: the relevance threshold


@dataclass(frozen=True)
class AnswerSettings:
    top_k: int = 8
    sentence_candidates: int = 10
    answer_chars: int = 500
    follow_ratio: float = 0.7
    min_confidence: float = 0.30
    max_question_chars: int = 500


@dataclass(frozen=True)
class Helpers:
    """What answering uses besides the index: the maintainers' aliases and a speller for the corpus."""

    aliases: Aliases = NO_ALIASES
    speller: Speller | None = None
    decider: Decider = RELEVANCE_ONLY
    ranking: Ranking = HAND_SET
    reader: Reader | None = None  # None: decided without it (no reader files)
    notes: NoteAnswers | None = None  # the questions the index's moderator notes were written for

    @classmethod
    def for_index(
        cls,
        index: KnowledgeIndex,
        aliases: Aliases,
        decider: Decider,
        ranking: Ranking = HAND_SET,
        reader: Reader | None = None,
        notes: NoteAnswers | None = None,
    ) -> Helpers:
        speller = Speller(lambda: (index.sentence_text(i) for i in range(len(index.sentences))))
        return cls(aliases, speller, decider, ranking, reader, notes)


def answer_question(
    question: object,
    retriever: Retriever,
    settings: AnswerSettings,
    context: Context | None = None,
    helpers: Helpers | None = None,
) -> Answer:
    """The whole answering path for one question; never raises for bad input. ``context``: what a
    follow-up leans on (bot/core/answering/conversation.py), retrieved and scored below its own words."""
    helpers = helpers or Helpers(decider=Decider(None, settings.min_confidence))
    clean = clean_question(question, settings.max_question_chars)
    shown = question if isinstance(question, str) else repr(question)
    if clean.text is None:
        return Answer(shown, False, clean.problem or DECLINE, problem=clean.code)
    index = retriever.index
    intent = metadata.metadata_intent(clean.text)
    if intent is not None:
        return metadata.answer_from_details(clean.text, intent, index)
    closeness = helpers.notes.closeness(clean.text) if helpers.notes is not None and context is None else {}
    if closeness and max(closeness.values()) >= NOTE_MATCH:
        note = max(closeness, key=closeness.get)
        return answer_from_note(clean.text, index, note, closeness[note], settings.answer_chars)
    asked = read_question(clean.text, retriever, helpers.aliases, helpers.speller, context)
    candidates = gather_candidates(asked, retriever, settings.top_k, settings.sentence_candidates)
    if helpers.notes is not None:  # a note's sentences answer only questions on its subject
        away = helpers.notes.notes - {note for note, value in closeness.items() if value >= NOTE_NEAR}
        candidates = [c for c in candidates if index.sentences[c.sentence_id].doc_id not in away]
    if not candidates:
        return Answer(clean.text, False, DECLINE)
    ranked = score_sentences(index, asked, candidates, helpers.ranking)
    # The reader reads the question alone, and a follow-up means what its earlier turns lend it ("it"
    # is Progress 71): read alone, "When did it dock?" answers nothing, so follow-ups are decided
    # without it, as before the reader.
    reader = helpers.reader if context is None else None
    ranked = read_candidates(index, asked, ranked, reader)
    decision = decide(index, asked, ranked, helpers.decider)
    if not decision.answers:
        return decline(clean.text, index, ranked, decision)
    return compose_answer(clean.text, index, ranked, decision, settings.follow_ratio, settings.answer_chars)


def ranking_candidates(
    question: str, retriever: Retriever, settings: AnswerSettings, helpers: Helpers, read: bool = False
) -> list[tuple[str, dict[str, float]]]:
    """Every candidate sentence of a question with what the ranking reads of it (``make calibrate``
    fits the ranking weights on these); ``read``: only those the reader was given, with what it
    said (the second ranking is fitted on these)."""
    asked = read_question(question, retriever, helpers.aliases, helpers.speller)
    candidates = gather_candidates(asked, retriever, settings.top_k, settings.sentence_candidates)
    ranked = score_sentences(retriever.index, asked, candidates, helpers.ranking) if candidates else []
    if read:
        ranked = read_candidates(retriever.index, asked, ranked, helpers.reader)
        ranked = [c for c in ranked if "unread" in c.values]
    return [(retriever.index.sentence_text(c.sentence_id), c.values) for c in ranked]
