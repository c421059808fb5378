"""The reader: its input layout, the shipped model reading written pairs (none from an evaluation
set), the reading stage inside the engine, and answering going on when the model is missing."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.answering import reader as reader_module
from bot.core.answering.compose import compose
from bot.core.answering.passages import opens_with_pronoun
from bot.core.answering.reader import (
    MAX_CONTEXT_TOKENS,
    MAX_QUESTION_TOKENS,
    MAX_TOKENS,
    READ_LIMIT,
    Passage,
    Reader,
    ReaderUnavailable,
    encode_pair,
    load_tokenizer,
)
from bot.core.answering.scoring import Features, Scored
from bot.core.engine import Engine
from bot.core.ingest.lexical import latin_share


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(reader_module.MODEL_DIR / reader_module.TOKENIZER_FILE)


def test_the_input_is_question_sentence_then_context_and_the_context_is_cut_first(tokenizer):
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    short = encode_pair(tokenizer, "Who filmed it?", Passage("Gerst filmed it.", "Launch", "He was on the station."))
    assert short.ids[0] == cls and short.ids.count(sep) == 3 and short.ids[-1] == sep
    first_sep = short.ids.index(sep)
    assert short.types == [0] * (first_sep + 1) + [1] * (len(short.ids) - first_sep - 1)
    words = " ".join(f"word{n}" for n in range(200))
    long = encode_pair(tokenizer, words, Passage(words, "Title", words))
    # no room left: the context goes (with the [SEP] kept for it), the sentence stays
    assert len(long.ids) == MAX_TOKENS - 1 and long.ids.index(sep) == MAX_QUESTION_TOKENS + 1
    assert long.ids.count(sep) == 2
    context = encode_pair(tokenizer, "Who?", Passage("Short.", "Title", words))
    assert len(context.ids) - context.ids.index(sep, context.ids.index(sep) + 1) - 2 == MAX_CONTEXT_TOKENS


def test_it_prefers_the_sentence_that_answers_over_one_on_the_same_subject(reader):
    question = "When did the Meridian ferry start sailing to the island?"
    passages = [
        Passage("The Meridian ferry is painted blue and carries two hundred cars.", "Island ferries"),
        Passage("The Meridian ferry began sailing to the island in March 1974.", "Island ferries"),
        Passage("Its captain, Ruth Hale, has served on the route for twenty years.", "Island ferries"),
    ]
    scores = reader.scores(question, passages)
    assert scores.argmax() == 1 and scores[1] > 0 > max(scores[0], scores[2])


def test_it_reads_the_sentence_before_for_a_pronoun(reader):
    question = "Who designed the Orvik bridge?"
    named = Passage("It was designed by the engineer Marta Lind.", "Orvik", "The Orvik bridge opened in 1931.")
    elsewhere = Passage("It was designed by the engineer Marta Lind.", "Orvik", "The town hall was rebuilt in 1931.")
    about, other = reader.scores(question, [named, elsewhere])
    assert about > other


def test_a_sentences_logit_does_not_depend_on_the_others_read_with_it(reader):
    """The int8 model quantises activations per run: batched, a sentence's logit moved with the
    sentences retrieved beside it (and the batch's padding)."""
    question = "When did the Meridian ferry start sailing to the island?"
    answer = Passage("The Meridian ferry began sailing to the island in March 1974.", "Island ferries")
    others = [
        Passage("The Meridian ferry is painted blue and carries two hundred cars.", "Island ferries"),
        Passage(
            "Its captain, Ruth Hale, has served on the route for twenty years, through storms, strikes, "
            "two refits of the engine room and the winter the harbour froze over for six weeks.",
            "Island ferries",
            "The crew of eleven lives on the island.",
        ),
    ]
    alone = reader.scores(question, [answer])[0]
    assert reader.scores(question, [answer, *others])[0] == alone
    assert reader.scores(question, [*others, answer])[-1] == alone


def test_a_missing_model_is_one_clear_error(tmp_path: Path):
    with pytest.raises(ReaderUnavailable, match=r"missing.*make train-reader"):
        Reader(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ReaderUnavailable, match="cannot load"):
        Reader(tmp_path)


def test_the_engine_reads_the_best_candidates_and_quotes_only_runners_up_it_says_answer(launch_engine: Engine):
    live = launch_engine._require_live()
    assert live.helpers.reader is not None
    answer = launch_engine.answer("How much cargo did the Progress spacecraft deliver to the space station?")
    assert answer.answered and answer.assessment["reader_read"] == 1.0
    read = launch_engine.ranking_candidates("How much cargo did the Progress spacecraft deliver?", read=True)
    assert 0 < len(read) <= READ_LIMIT
    ranked = launch_engine.ranking_candidates("How much cargo did the Progress spacecraft deliver?")
    assert [text for text, _ in read] == [text for text, _ in ranked[: len(read)]]  # it judges, the ranking orders
    assert all(values["unread"] in (0.0, 1.0) for _, values in read)
    # every quote after the first is a sentence the reader said answers too; none in another script
    for source in answer.sources[1:]:
        assert latin_share(source.quote) > 0.5


def test_answering_goes_on_without_the_reader(launch_engine: Engine, monkeypatch, caplog):
    monkeypatch.setattr(reader_module, "MODEL_DIR", Path("/nonexistent"))
    monkeypatch.setattr(reader_module, "_shared", [])
    with caplog.at_level(logging.WARNING):
        assert reader_module.shared_reader() is None
        assert reader_module.shared_reader() is None
    assert caplog.text.count("answering without the reader") == 1
    live = launch_engine._require_live()
    monkeypatch.setattr(launch_engine, "_live", replace(live, helpers=replace(live.helpers, reader=None)))
    answer = launch_engine.answer("Where was the Progress cargo ship launched from?")
    assert answer.answered and answer.assessment["reader_read"] == 0.0


def test_a_runner_up_is_quoted_only_when_the_reader_says_it_answers(launch_engine: Engine):
    index = launch_engine.index
    plain = [
        i
        for i in range(len(index.sentences))
        if latin_share(index.sentence_text(i)) > 0.9 and not opens_with_pronoun(index.sentence_text(i))
    ]
    first, related, answering = plain[2], plain[6], plain[10]

    def scored(sentence_id: int, score: float, logit: float | None) -> Scored:
        features = Features(dense=0.5, overlap=0.5, passage=1.0, cue=0.0, asks=0.0)
        chunk = int(index.sentence_chunk[sentence_id])
        return Scored(sentence_id, chunk, features, 0.5, {}, score, logit)

    def quoted(ranked: list[Scored]) -> set[int]:
        return {q.sentence_id for run in compose(index, ranked, 0.7, 5000) for q in run}

    read = quoted([scored(first, 1.0, 3.0), scored(related, 0.95, -2.0), scored(answering, 0.9, 1.0)])
    assert first in read and answering in read and related not in read
    unread = quoted([scored(first, 1.0, 3.0), scored(related, 0.95, None)])
    assert related not in unread  # another script: it cannot show it answers
    before = quoted([scored(first, 1.0, None), scored(related, 0.95, None)])
    assert related in before  # nothing read (a Hindi question): close runners-up as before
