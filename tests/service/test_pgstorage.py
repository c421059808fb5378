"""State in PostgreSQL (a real server): the same answers as SQLite to the same calls, the same
migrations, and ``launchbot migrate-state`` copying a SQLite database with nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from bot.cli.main import main
from bot.core.answering.conversation import Turn
from bot.service.conversations import StoredConversations
from bot.service.pgstorage import POSTGRES_MIGRATIONS, PostgresStorage, StateNotEmpty, copy_sqlite
from bot.service.schema import statements
from bot.service.storage import DOWN, EVERY, UP, Origin, SQLiteStorage, StoredSource
from tests.service.test_storage import GUILD, OTHER_GUILD, V1_DATABASE

TABLES = {
    "questions": "id, platform, community_id, chat_id, thread_id, user_id, question, answered, answer, sources,"
    " confidence, latency_ms, created, delivered",
    "feedback": "question_id, user_id, vote, updated",
    "chats": "platform, chat_id, community_id, enabled, mode",
    "conversations": "platform, conversation, updated",
    "conversation_turns": "platform, conversation, turn_number, question, quotes",
    "conversation_links": "platform, message_id, conversation",
}


GAP_SCOPES = [("telegram", "1"), ("discord", "1")]


def _scenario(storage) -> list:
    """Every kind of call, and what each returned."""
    discord = Origin("discord", "1", "10", "100")
    group = Origin("telegram", "1", "1", "100", thread_id="5")
    private = Origin("telegram", None, "100", "100")
    source = StoredSource(1, "Article — “quoted”", "The ship was launched from Baikonur.", "context ✓ नवंबर")
    seen: list = [
        storage.record_question(discord, question="When?", answered=True, sources=[source], confidence=0.5),
        storage.record_question(group, question="Who?", answered=True),
        storage.record_question(group, question="who?", answered=False),
        storage.record_question(group, question="Lost?", answered=True, delivered=False),
        storage.record_question(private, question="Where?", answered=True, delivered=False),
    ]
    seen += [storage.vote(2, "100", DOWN), storage.vote(2, "100", UP), storage.vote(2, "101", DOWN)]
    seen += [storage.vote(99, "100", UP), storage.votes(2), storage.get_answer(1), storage.get_answer(99)]
    storage.mark_delivered(5)
    seen += [storage.stats("discord", "1", 0), storage.stats("telegram", "1", 0), storage.stats("telegram", None, 0)]
    seen += [[replace(gap, created=0.0) for gap in storage.gaps(*scope, 0)] for scope in GAP_SCOPES]
    seen += [
        storage.set_chat("telegram", "-100", "-100", enabled=True),
        storage.set_chat("discord", "7", "1", mode="thread"),
    ]
    seen += [storage.chats("telegram"), storage.chats("discord")]
    with pytest.raises(ValueError, match="mode"):
        storage.set_chat("telegram", "-100", "-100", mode="shout")
    return seen + _privacy_scenario(storage) + _conversation_scenario(storage)


def _privacy_scenario(storage) -> list:
    """Reports over every platform, activity for charts, waiting questions, forgetting, expiry."""
    old = storage.record_question(Origin("telegram", "1", "1", "200"), question="Old?", answered=False, created=5.0)
    storage.mark_delivered(old, "1:77")
    storage.vote(1, "200", DOWN)
    seen: list = [storage.stats(EVERY, EVERY, 0), storage.stats("telegram", EVERY, 0)]
    seen += [[replace(a, created=min(a.created, 100.0)) for a in storage.activity(EVERY, EVERY, 0)]]
    seen += [len(storage.activity("telegram", "1", 6.0))]
    seen += [[replace(w, created=0.0) for w in storage.waiting("telegram", "1", 0)]]
    seen += [storage.forget_member("telegram", "200"), storage.votes(1), storage.forget_member("telegram", "200")]
    seen += [storage.expire_questions(6.0), storage.stats(EVERY, EVERY, 0)]
    return seen


def _conversation_scenario(storage) -> list:
    turn = Turn("Когда? कब हुआ “it”", ("Quoted — ✓.", "Second."))
    for now, message in ((10.0, "m1"), (20.0, "m2"), (30.0, "m3")):
        storage.add_turn("discord", "thread:1", turn, [message], now=now, max_turns=2, idle_since=now - 100)
    storage.add_turn("telegram", "thread:1", Turn("Who?"), ["m1"], now=40.0, max_turns=2, idle_since=-60)
    storage.add_turn("discord", "a", Turn("Why?"), ["m3"], now=50.0, max_turns=2, idle_since=-50)  # relinked
    seen = [storage.conversation("discord", "thread:1"), storage.conversation("telegram", "thread:1")]
    seen += [storage.linked_conversation("discord", m) for m in ("m1", "m2", "m3", "m4")]
    seen += [storage.conversation_count(), storage.conversation("discord", "none")]
    storage.add_turn("discord", "thread:1", Turn("Again?"), ["m5"], now=200.0, max_turns=2, idle_since=100.0)
    seen += [storage.conversation("discord", "thread:1"), storage.linked_conversation("discord", "m1")]
    storage.forget_conversation("discord", "a", idle_since=49.0)  # had a turn since: kept
    seen += [storage.conversation_count(), storage.expire_conversations(45.0), storage.conversation_count()]
    storage.forget_conversation("discord", "a")
    return [*seen, storage.conversation_count(), storage.linked_conversation("discord", "m3")]


def test_postgres_answers_every_call_as_sqlite_does(tmp_path: Path, database_url: str) -> None:
    sqlite_storage, pg_storage = SQLiteStorage(tmp_path / "state.sqlite3"), PostgresStorage(database_url)
    try:
        assert _scenario(pg_storage) == _scenario(sqlite_storage)
        assert pg_storage.schema_version() == sqlite_storage.schema_version() == len(POSTGRES_MIGRATIONS)
    finally:
        sqlite_storage.close()
        pg_storage.close()


def test_both_databases_have_the_same_tables_columns_and_indexes(tmp_path: Path, database_url: str) -> None:
    sqlite_storage, pg_storage = SQLiteStorage(tmp_path / "state.sqlite3"), PostgresStorage(database_url)
    try:
        sqlite_tables = [row[0] for row in sqlite_storage._read("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_schema = {
            table: [row[1] for row in sqlite_storage._read(f"PRAGMA table_info({table})")] for table in sqlite_tables
        }
        pg_schema: dict[str, list[str]] = {}
        for table, column in pg_storage._read(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name <> 'schema_version' ORDER BY table_name, ordinal_position"
        ):
            pg_schema.setdefault(table, []).append(column)
        assert sqlite_schema == pg_schema and set(sqlite_schema) == set(TABLES)
        sqlite_indexes = sqlite_storage._read("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        pg_indexes = pg_storage._read(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND right(indexname, 5) <> '_pkey'"
        )
        assert sorted(sqlite_indexes) == sorted(pg_indexes) and len(pg_indexes) == 6
    finally:
        sqlite_storage.close()
        pg_storage.close()


def test_a_version_1_postgres_database_is_migrated_with_every_row(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for statement in statements(POSTGRES_MIGRATIONS[0]):
            conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO questions (guild_id, channel_id, user_id, question, answered, created)"
            " VALUES (%s, 5, 6, 'When?', 1, 1.5)",
            (GUILD,),
        )
        conn.execute("INSERT INTO feedback VALUES (1, 6, -1, 2.5)")
        conn.execute("INSERT INTO channels VALUES (5, %s, 1, 'thread')", (GUILD,))
    storage = PostgresStorage(database_url)
    try:
        assert storage.schema_version() == len(POSTGRES_MIGRATIONS)
        assert storage.stats("discord", str(GUILD), 0).asked == 1 and storage.votes(1) == (0, 1)
        assert storage.chats("discord")["5"].mode == "thread"
        assert storage.record_question(Origin("discord", "1", "2", "3"), question="q", answered=True) == 2
    finally:
        storage.close()


def _ordered(table: str) -> str:
    return f"SELECT {TABLES[table]} FROM {table} ORDER BY 1, 2"


def test_a_version_2_postgres_database_gains_conversations_and_keeps_every_row(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for script in POSTGRES_MIGRATIONS[:2]:
            for statement in statements(script):
                conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2)")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO questions (platform, community_id, chat_id, user_id, question, answered, created)"
            " VALUES ('telegram', '-100', '-100', '42', 'Who?', 0, 9.5), ('discord', '1', '2', '3', 'When?', 1, 1.5)"
        )
        conn.execute("INSERT INTO feedback VALUES (2, '6', -1, 2.5)")
        conn.execute("INSERT INTO chats VALUES ('telegram', '-100', '-100', 1, 'mention')")
        before = {table: conn.execute(_ordered(table)).fetchall() for table in TABLES if "conversation" not in table}
    storage = PostgresStorage(database_url)
    try:
        assert storage.schema_version() == len(POSTGRES_MIGRATIONS)
        for table, rows in before.items():
            assert storage._read(_ordered(table)) == rows, table
        assert storage.conversation_count() == 0
        assert storage.record_question(Origin("discord", "1", "2", "3"), question="q", answered=True) == 3
    finally:
        storage.close()


def _rows(storage, table: str) -> list[tuple]:
    return sorted(storage._read(f"SELECT {TABLES[table]} FROM {table}"), key=repr)


def test_migrate_state_copies_a_sqlite_database_with_nothing_lost(tmp_path: Path, database_url: str, monkeypatch):
    path = tmp_path / "launchbot.sqlite3"
    shutil.copy(V1_DATABASE, path)  # written by the Discord-only version: migrated to the current schema first
    with_conversations = SQLiteStorage(path)
    conversations = StoredConversations(with_conversations, max_turns=2)
    for n in range(3):
        conversations.add("discord", "thread:9", Turn(f"Question {n} — “कब”?", (f"Quote {n}.",)), [f"m{n}"])
    conversations.add("telegram", "-100:1", Turn("Declined?"), ["-100:2", "-100:3"])
    with_conversations.close()
    monkeypatch.setenv("LAUNCHBOT_DATABASE_URL", database_url)
    assert main(["migrate-state", "--from", str(path)]) == 0
    source, target = SQLiteStorage(path), PostgresStorage(database_url)
    try:
        for table in TABLES:
            assert _rows(target, table) == _rows(source, table), table
        assert sum(1 for _ in _rows(target, "questions")) == 4
        assert [len(_rows(target, table)) for table in TABLES if "conversation" in table] == [2, 3, 5]
        continued = StoredConversations(target, max_turns=2)  # a reply after the move continues
        assert continued.replied_to("discord", "m2") == "thread:9"
        assert [t.question for t in continued.history("discord", "thread:9")] == [
            "Question 1 — “कब”?",
            "Question 2 — “कब”?",
        ]
        for storage in (source, target):  # the reports read the same from both
            assert storage.stats("discord", str(GUILD), 0) == source.stats("discord", str(GUILD), 0)
            assert storage.gaps("discord", str(OTHER_GUILD), 0) == source.gaps("discord", str(OTHER_GUILD), 0)
        assert target.get_answer(1) == source.get_answer(1)
        new = Origin("telegram", "-1", "-1", "9")
        assert target.record_question(new, question="q", answered=True) == 5  # ids continue after the copy
        with pytest.raises(StateNotEmpty):
            copy_sqlite(source, target)  # a second copy would duplicate: refused, nothing written
        assert len(_rows(target, "questions")) == 5
    finally:
        source.close()
        target.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM questions").fetchone() == (4,)  # source untouched


def test_migrate_state_says_what_is_missing(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LAUNCHBOT_DATABASE_URL", raising=False)
    assert main(["migrate-state", "--from", str(tmp_path / "none.sqlite3")]) == 2
    assert "no SQLite database" in capsys.readouterr().err
    shutil.copy(V1_DATABASE, tmp_path / "db.sqlite3")
    assert main(["migrate-state", "--from", str(tmp_path / "db.sqlite3")]) == 2
    assert "LAUNCHBOT_DATABASE_URL" in capsys.readouterr().err


def test_migrate_state_with_nothing_to_migrate_says_so_and_exits_0(
    tmp_path: Path, database_url: str, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("LAUNCHBOT_DATABASE_URL", database_url)
    assert main(["migrate-state", "--home", str(tmp_path)]) == 0  # a fresh install: no SQLite file
    out = capsys.readouterr().out
    assert "nothing to migrate" in out and str(tmp_path / "data" / "launchbot.sqlite3") in out
    storage = PostgresStorage(database_url)  # and the state database is ready for state_backend: postgres
    try:
        assert storage.schema_version() == len(POSTGRES_MIGRATIONS)
    finally:
        storage.close()


def test_connections_a_restart_ended_fail_nothing(database_url: str) -> None:
    """What a PostgreSQL restart leaves: every open connection ended by the server. The pool's check
    finds them before use, so the next calls work and nothing is written twice."""
    storage = PostgresStorage(database_url)
    try:
        origin = Origin("telegram", None, "5", "5")
        first = storage.record_question(origin, question="Before?", answered=True)
        with psycopg.connect(database_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert ended >= 1
        assert storage.record_question(origin, question="After?", answered=True) == first + 1
        storage.mark_delivered(first + 1)
        assert [question for question, _ in storage.stats("telegram", None, 0).top] == ["After?", "Before?"]
    finally:
        storage.close()


def test_a_connection_lost_at_commit_writes_each_row_once(database_url: str, monkeypatch) -> None:
    """The server commits, then the connection drops before the client hears so (a restart at that
    instant): neither a question's record nor a conversation's turn is failed or written twice."""
    storage = PostgresStorage(database_url)
    real = storage._transaction
    lost: list[bool] = []

    @contextmanager
    def commit_then_lose():
        with real() as cursor:
            yield cursor
        if not lost:
            lost.append(True)
            raise psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    try:
        monkeypatch.setattr(storage, "_transaction", commit_then_lose)
        origin = Origin("telegram", None, "7", "7")
        question_id = storage.record_question(origin, question="Lost at commit?", answered=True)
        assert lost == [True]
        rows = storage._read("SELECT id FROM questions WHERE question = ?", ("Lost at commit?",))
        assert rows == [(question_id,)]
        again = storage.record_question(origin, question="Lost at commit?", answered=True)  # asked again: a new row
        assert again == question_id + 1

        lost.clear()
        storage.add_turn("telegram", "chat:7", Turn("When?"), ["m1"], now=10.0, max_turns=5, idle_since=0.0)
        assert lost == [True]
        storage.add_turn("telegram", "chat:7", Turn("When?"), ["m2"], now=20.0, max_turns=5, idle_since=0.0)
        assert [t.question for t in storage.conversation("telegram", "chat:7").turns] == ["When?", "When?"]  # not three
    finally:
        storage.close()
