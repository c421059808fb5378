"""A gap answered once: from a realistic week, the top missing subject gets a moderator note, and the
same questions are then answered by quoting the note verbatim with "Moderator note by …, date" in
every front end's rendering; nothing the articles answered, and nothing else they do not, changes."""

from __future__ import annotations

import re

import pytest
import yaml

from bot.cli.render import render_text
from bot.discord.render import answer_embed
from bot.service.gaps import closest_heading, find_gaps
from bot.service.notes import NoteProblem, Notes, parse_note
from bot.service.storage import Origin, SQLiteStorage
from bot.service.text import source_label, stored_sources
from bot.telegram.render import answer_messages
from tests.conftest import WEEK_COMMUNITY
from tests.helpers import DEV_SET
from tests.week import GAP_SUBJECTS, OFF_TOPIC

ANSWER = "The weather at Baikonur on launch day was clear and cold, about −5 °C, with a light wind."


def outcome(answer) -> tuple:
    return answer.answered, answer.text


def test_a_note_answers_a_top_gap_everywhere_it_is_asked_and_declines_nothing_it_should_not(week, engine):
    generated, database, _ = week
    storage = SQLiteStorage(database)
    try:
        report = find_gaps(storage, engine, "discord", WEEK_COMMUNITY, 7)
        top = report.topics[0]
        weather = GAP_SUBJECTS["weather"][0]
        assert top.question in weather and top.people == generated.people("weather")

        dev = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))["items"]
        others = [q for subject, (wordings, _, _) in GAP_SUBJECTS.items() if subject != "weather" for q in wordings]
        before = {q: outcome(engine.answer(q)) for q in [item["question"] for item in dev] + others + OFF_TOPIC}
        before_top = outcome(engine.answer(top.question))

        # as the /gaps answer button writes it: for the topic's questions, in the members' wordings
        added = Notes(engine.settings, engine, storage).add(list(top.examples), ANSWER, "Anna")
        note = added.note
        assert "is now answered, quoting the note" in added.check_text()
        for question in weather:  # every wording members used, the Hindi one included
            answer = engine.answer(question)
            assert answer.answered, question
            [source] = [s for s in answer.sources if s.doc_id == note.doc_id]
            assert answer.sources[0] is source and source.quote == ANSWER  # first, and verbatim
            assert source_label(source) == f"Moderator note by Anna, {note.date}" == note.attribution
            assert note.attribution in render_text(answer)
            assert any(note.attribution in field.name for field in answer_embed(answer).fields)
            assert note.attribution in "".join(answer_messages(answer))
            assert stored_sources(answer)[0].label == note.attribution  # the "Sources" button, after a restart

        for item in dev:  # the articles' answers and declines stand
            answer = engine.answer(item["question"])
            assert outcome(answer) == before[item["question"]], item["id"]
            assert all(s.doc_id != note.doc_id for s in answer.sources), item["id"]
        # Subjects the articles do not cover: never quoted from the note, and never newly answered. One
        # answered before with a near quote at the threshold may be declined now: the index changed.
        for question in others + OFF_TOPIC:
            answer = engine.answer(question)
            assert all(s.doc_id != note.doc_id for s in answer.sources), question
            assert before[question][0] or not answer.answered, question

        again = find_gaps(storage, engine, "discord", WEEK_COMMUNITY, 7)
        [topic] = [t for t in again.topics if set(t.examples) <= set(weather)]
        assert topic.answered_now and closest_heading(topic) == "Answered now, from"
        assert topic.closest.doc_id == note.doc_id

        Notes(engine.settings, engine, storage).remove(note.id)
        assert outcome(engine.answer(top.question)) == before_top  # removed: the bot answers as before the note
    finally:
        storage.close()


def test_members_who_asked_can_be_told_once_a_note_answers(engine, tmp_path):
    storage = SQLiteStorage(tmp_path / "state.sqlite3")
    group = Origin("telegram", "-100", "-100", "7", thread_id="3")
    waiting = storage.record_question(group, question="How much did the mission cost?", answered=False)
    storage.mark_delivered(waiting, "-100:55")
    storage.record_question(group, question="How do I bake a chocolate cake?", answered=False)
    settings = engine.settings
    notes = Notes(settings, engine, storage)
    added = notes.add(
        ["How much did the mission cost?"], "A Progress cargo flight costs about 65 million dollars.", "Ravi"
    )
    assert notes.followups("telegram", "-100", added.note) == []  # notes.notify_days is 0: off by default

    on = settings.model_copy(update={"notes": settings.notes.model_copy(update={"notify_days": 7})})
    [(told, answer)] = Notes(on, engine, storage).followups("telegram", "-100", added.note)
    assert (told.id, told.chat_id, told.thread_id, told.answer_message) == (waiting, "-100", "3", "-100:55")
    assert answer.sources[0].doc_id == added.note.doc_id
    assert Notes(on, engine, storage).followups("telegram", "-999", added.note) == []  # that community only
    storage.close()


def test_note_commands_say_what_is_wrong(engine):
    notes = Notes(engine.settings, engine, None)
    assert parse_note(["What fuel does Soyuz use? | Kerosene and liquid oxygen."]) == (
        ["What fuel does Soyuz use?"],
        "Kerosene and liquid oxygen.",
    )
    with pytest.raises(NoteProblem, match=r"then \| and the answer"):
        parse_note(["What fuel does Soyuz use? Kerosene."])
    with pytest.raises(NoteProblem, match="needs its answer"):
        notes.add(["What fuel?"], "  ", "Anna")
    with pytest.raises(NoteProblem, match="at most 500 characters"):
        notes.add(["x" * 501], "An answer.", "Anna")
    with pytest.raises(NoteProblem, match=re.escape("There is no note '7' (notes: none yet).")):
        notes.remove("7")
    assert notes.list() == []
    assert "add discord:42" in notes.refusal("discord", "42")
    listed = notes.settings.model_copy(
        update={"notes": notes.settings.notes.model_copy(update={"communities": ["discord:42"]})}
    )
    assert Notes(listed, engine, None).refusal("discord", "42") == ""
    assert Notes(listed, engine, None).refusal("telegram", "42") != ""  # the platform counts too


def test_a_note_overrides_the_articles_for_the_questions_it_was_written_for_only(engine):
    """The articles answer "Who was the commander of the Soyuz?" with Gerst, commander of Expedition 57
    (the answer members voted down); a note written for that question answers it and its paraphrases,
    and the Expedition 57 question keeps its answer from the articles."""
    question = "Who was the commander of the Soyuz?"
    wrong = engine.answer(question)
    assert wrong.answered and "Gerst" in wrong.text
    expedition = engine.answer("Who is the commander of Expedition 57?")
    answer = "The Soyuz rocket carried no crew, so it had no commander: Progress MS-10 is an automated cargo ship."
    note = Notes(engine.settings, engine, None).add([question], answer, "Ravi").note
    for asked in (question, "Who commanded the Soyuz rocket?", "Who was the Soyuz commander?"):
        now = engine.answer(asked)
        assert now.answered and now.text == f"“{answer}” [1]" and now.sources[0].doc_id == note.doc_id, asked
    again = engine.answer("Who is the commander of Expedition 57?")
    assert outcome(again) == outcome(expedition) and "Gerst" in again.text
    fuel = engine.answer("What fuel does the Soyuz rocket use?")  # says "Soyuz rocket", answers nothing of fuel
    assert note.doc_id not in {s.doc_id for s in [*fuel.sources, *([fuel.closest] if fuel.closest else [])]}
