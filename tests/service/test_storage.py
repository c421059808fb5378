"""Storage: one schema for every platform, and a database written by the Discord-only version
(``tests/data/launchbot-v1.sqlite3``, written by main's code at facd085) migrated with no row lost."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from bot.service.storage import DOWN, EVERY, SQLITE_MIGRATIONS, UP, ChatConfig, Forgotten, Origin, SQLiteStorage
from tests.helpers import REPO

V1_DATABASE = REPO / "tests" / "data" / "launchbot-v1.sqlite3"
GUILD, OTHER_GUILD = 412345678901234567, 998877665544332211


def rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture
def old_database(tmp_path: Path) -> Path:
    path = tmp_path / "launchbot.sqlite3"
    shutil.copy(V1_DATABASE, path)
    assert rows(path, "PRAGMA user_version") == [(1,)]
    return path


def test_a_version_1_database_keeps_every_row_as_discord_rows(old_database):
    questions = rows(
        old_database,
        "SELECT id, guild_id, channel_id, user_id, question, answered, answer, sources, confidence, latency_ms,"
        " created FROM questions ORDER BY id",
    )
    feedback = rows(old_database, "SELECT question_id, user_id, vote, updated FROM feedback ORDER BY 1, 2")
    channels = rows(old_database, "SELECT channel_id, guild_id, enabled, mode FROM channels ORDER BY 1")
    assert len(questions) == 4 and len(feedback) == 4 and len(channels) == 3

    storage = SQLiteStorage(old_database)
    assert storage.schema_version() == len(SQLITE_MIGRATIONS) == 4
    storage.close()

    migrated = rows(
        old_database,
        "SELECT id, platform, community_id, chat_id, thread_id, user_id, question, answered, answer, sources,"
        " confidence, latency_ms, created, delivered FROM questions ORDER BY id",
    )
    text = lambda value: None if value is None else str(value)  # noqa: E731
    assert migrated == [(q[0], "discord", text(q[1]), text(q[2]), None, str(q[3]), *q[4:], 1) for q in questions]
    assert rows(old_database, "SELECT question_id, user_id, vote, updated FROM feedback ORDER BY 1, 2") == [
        (f[0], str(f[1]), f[2], f[3]) for f in feedback
    ]
    assert rows(old_database, "SELECT platform, chat_id, community_id, enabled, mode FROM chats ORDER BY 2") == sorted(
        [("discord", str(c[0]), str(c[1]), c[2], c[3]) for c in channels], key=lambda row: row[1]
    )


def test_a_migrated_database_serves_reports_votes_and_sources(old_database):
    storage = SQLiteStorage(old_database)
    stats = storage.stats("discord", str(GUILD), since=0)
    assert (stats.asked, stats.answered, stats.declined, stats.up, stats.down) == (2, 1, 1, 2, 0)
    [gap] = storage.gaps("discord", str(OTHER_GUILD), since=0)
    assert gap.question.startswith("=HYPERLINK") and gap.down == 2
    assert storage.votes(1) == (2, 0) and storage.votes(3) == (0, 2)
    assert storage.get_answer(1).sources[0].quote.startswith("The ship was launched from Baikonur")
    chats = storage.chats("discord")
    assert chats["612345678901234567"] == ChatConfig(str(GUILD), True, "thread")
    assert storage.chats("telegram") == {}
    assert storage.vote(1, "212345678901234567", DOWN)  # an old voter changes their vote
    assert storage.votes(1) == (1, 1)
    new = storage.record_question(Origin("telegram", "-100123", "-100123", "42", "7"), question="q", answered=True)
    assert new == 5
    storage.close()
    again = SQLiteStorage(old_database)  # migrations run once
    assert again.schema_version() == len(SQLITE_MIGRATIONS) and again.votes(1) == (1, 1)
    again.close()


def test_a_version_2_database_gains_conversations_and_keeps_every_row(old_database):
    """The previous schema (version 2, before conversations were stored) to the current one."""
    db = sqlite3.connect(old_database)
    db.executescript(f"BEGIN; {SQLITE_MIGRATIONS[1]}; PRAGMA user_version = 2; COMMIT")
    db.execute(
        "INSERT INTO questions (platform, community_id, chat_id, thread_id, user_id, question, answered, created,"
        " delivered) VALUES ('telegram', '-100', '-100', '7', '42', 'Who?', 0, 9.5, 0)"
    )
    db.commit()
    db.close()
    columns = {
        table: ", ".join(row[1] for row in rows(old_database, f"PRAGMA table_info({table})"))
        for table in ("questions", "feedback", "chats")
    }
    tables = {
        table: rows(old_database, f"SELECT {names} FROM {table} ORDER BY 1, 2") for table, names in columns.items()
    }
    assert len(tables["questions"]) == 5

    storage = SQLiteStorage(old_database)
    assert storage.schema_version() == len(SQLITE_MIGRATIONS)
    assert storage.conversation_count() == 0 and storage.conversation("telegram", "-100:1") is None
    storage.close()
    for table, before in tables.items():
        assert rows(old_database, f"SELECT {columns[table]} FROM {table} ORDER BY 1, 2") == before, table
    assert rows(old_database, "SELECT DISTINCT answer_message FROM questions") == [(None,)]


def test_platforms_and_communities_are_reported_apart_and_undelivered_answers_do_not_count(tmp_path):
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    discord = Origin("discord", "1", "10", "100")
    group = Origin("telegram", "1", "1", "100", thread_id="5")  # same ids, another platform
    private = Origin("telegram", None, "100", "100")
    storage.record_question(discord, question="When?", answered=True)
    voted_down = storage.record_question(group, question="Who?", answered=True)
    storage.record_question(group, question="Cake?", answered=False)
    storage.record_question(group, question="Lost?", answered=True, delivered=False)
    undelivered = storage.record_question(private, question="Where?", answered=True, delivered=False)
    storage.vote(voted_down, "100", DOWN)
    storage.vote(voted_down, "100", UP)
    storage.vote(voted_down, "100", DOWN)  # a second vote replaces the first

    assert storage.stats("discord", "1", since=0).asked == 1
    group_stats = storage.stats("telegram", "1", since=0)
    assert (group_stats.asked, group_stats.answered, group_stats.down) == (2, 1, 1)
    assert [gap.question for gap in storage.gaps("telegram", "1", since=0)] == ["Cake?", "Who?"]
    assert storage.stats("telegram", None, since=0).asked == 0
    storage.mark_delivered(undelivered)
    assert storage.stats("telegram", None, since=0).answered == 1
    assert storage.set_chat("telegram", "-100", "-100", enabled=True) == ChatConfig("-100", True, "mention")
    assert storage.chats("telegram") == {"-100": ChatConfig("-100", True, "mention")}
    assert storage.chats("discord") == {}
    with pytest.raises(ValueError, match="mode"):
        storage.set_chat("telegram", "-100", "-100", mode="shout")
    storage.close()


def test_forgetting_a_member_and_expiry_remove_questions_and_votes_and_nothing_else(tmp_path):
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    member, other = Origin("telegram", "-1", "-1", "42"), Origin("telegram", "-1", "-1", "43")
    mine = storage.record_question(member, question="Mine?", answered=True, created=1_000.0)
    theirs = storage.record_question(other, question="Theirs?", answered=True, created=2_000.0)
    same_id_elsewhere = storage.record_question(Origin("discord", "9", "9", "42"), question="Discord?", answered=False)
    storage.vote(mine, "43", UP)  # a vote on the member's question goes with it
    storage.vote(theirs, "42", DOWN)  # the member's vote on another's answer goes
    storage.vote(theirs, "44", UP)

    assert storage.forget_member("telegram", "42") == Forgotten(questions=1, votes=1)
    assert storage.get_answer(mine) is None and storage.votes(theirs) == (1, 0)
    assert storage.get_answer(same_id_elsewhere) is not None  # another platform's member 42 is someone else
    assert storage.forget_member("telegram", "42") == Forgotten(0, 0)

    assert storage.expire_questions(2_000.0) == 0  # asked at 2,000: kept until after it
    assert storage.expire_questions(2_000.5) == 1
    assert storage.get_answer(theirs) is None and storage.votes(theirs) == (0, 0)
    assert storage.stats(EVERY, EVERY, since=0).asked == 1
    storage.close()


def test_reports_never_say_who_asked(tmp_path):
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    for member in ("311111111111111111", "322222222222222222"):
        storage.record_question(Origin("discord", "1", "2", member), question="Weather?", answered=False)
    [first, second] = storage.gaps("discord", "1", since=0)
    assert first.asker != second.asker and len(first.asker) == 16
    assert not any("311111111111111111" in repr(value) for value in (first, second, storage.stats("discord", "1", 0)))
    assert "311111111111111111" not in repr(storage.waiting("discord", "1", 0))
    storage.close()
