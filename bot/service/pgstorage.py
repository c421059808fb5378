"""What the bot remembers, in PostgreSQL (``state_backend: postgres``), shared by every bot process.

``PostgresStorage`` is ``SQLStorage`` (every query, in portable SQL) on a pool of psycopg 3
connections: only the placeholder style, the connections and how migrations run are its own. A
PostgreSQL restart fails nothing that can be retried safely (``postgres_connections``: checked connections,
one retry of reads, idempotent writes, and new rows looked for before they are written again). The migrations are
SQLite's (``schema.py`` renders the one list for each), so both databases are always at the same
schema version, with PostgreSQL's types (identity ids, BIGINT snowflakes, DOUBLE PRECISION times).
Processes starting at once migrate one at a time (an advisory lock).

``copy_sqlite`` is ``launchbot migrate-state``: every row of every table of a SQLite database into
an empty PostgreSQL one, ids kept (answers' buttons keep working), in one transaction, then counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from bot.config import Settings
from bot.core.engine import Turn, postgres_connections
from bot.service.schema import POSTGRES, migrations, statements
from bot.service.storage import ChatConfig, Origin, SQLiteStorage, SQLStorage, Storage, open_storage

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 0x1A0C4B09
STORE = "state"  # its name in the database metrics
T = TypeVar("T")

# The same migrations as SQLite's (schema.py), in PostgreSQL's types.
POSTGRES_MIGRATIONS: list[str] = migrations(POSTGRES)


class PostgresStorage(SQLStorage):
    """A small pool of checked connections (calls come from worker threads, a few at a time); an
    operation whose connection is lost is retried once when that is safe (``postgres_connections``)."""

    PLACEHOLDER = "%s"
    POOL_SIZE = 4

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool = postgres_connections().open_pool(url, store=STORE, max_size=self.POOL_SIZE)
        self.migrate()

    def close(self) -> None:
        self._pool.close()

    def ping(self) -> None:
        """Raises unless the database answers (``/readyz``); waits no longer than a few seconds."""
        with self._pool.connection(timeout=3.0) as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return postgres_connections().retrying(STORE, lambda: self._read_once(sql, params))

    def _read_once(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self._pool.connection() as conn:
            return conn.execute(self._sql(sql), tuple(params)).fetchall()

    def _idempotent(self, write: Callable[[], T]) -> T:
        """A write that may safely run twice (an update to a value, an upsert, a delete)."""
        return postgres_connections().retrying(STORE, write)

    def _once(self, write: Callable[[], T], written: Callable[[], T | None]) -> T:
        """A write that must not run twice (a new row). It is retried even when its connection was
        lost at COMMIT, whose outcome the client cannot know (a restart at that instant failed a
        member's question with "Sorry"): before the second run, ``written`` looks for what the first
        one wrote and returns it (None: nothing was written, as when the server rolled it back)."""
        tries = 0

        def attempt() -> T:
            nonlocal tries
            tries += 1
            found = written() if tries > 1 else None
            return found if found is not None else write()

        return postgres_connections().retrying(STORE, attempt)

    def record_question(self, origin: Origin, **fields: Any) -> int:
        """The row's creation time is fixed before the first try: a retry looks for that very row."""
        if fields.get("created") is None:
            fields["created"] = time.time()
        find = (
            "SELECT id FROM questions WHERE platform = ? AND user_id = ? AND question = ? AND created = ?",
            (origin.platform, origin.user_id, fields["question"], float(fields["created"])),
        )
        return self._once(
            lambda: super(PostgresStorage, self).record_question(origin, **fields),
            lambda: next((int(row[0]) for row in self._read_once(*find)), None),
        )

    def add_turn(
        self,
        platform: str,
        key: str,
        turn: Turn,
        message_ids: Sequence[str] = (),
        *,
        now: float,
        max_turns: int,
        idle_since: float,
    ) -> None:
        """A retry looks for the turn as the conversation's last, stamped with this call's ``now``
        (another process's turn since then makes it add the turn again, after theirs)."""
        find = (
            "SELECT t.question FROM conversation_turns t JOIN conversations c"
            " ON c.platform = t.platform AND c.conversation = t.conversation"
            " WHERE c.platform = ? AND c.conversation = ? AND c.updated = ? ORDER BY t.turn_number DESC LIMIT 1",
            (platform, key, float(now)),
        )
        self._once(
            lambda: super(PostgresStorage, self).add_turn(
                platform, key, turn, message_ids, now=now, max_turns=max_turns, idle_since=idle_since
            ),
            lambda: True if [(turn.question,)] == self._read_once(*find) else None,
        )

    def mark_delivered(self, question_id: int, answer_message: str | None = None) -> None:
        return self._idempotent(lambda: super(PostgresStorage, self).mark_delivered(question_id, answer_message))

    def vote(self, question_id: int, user_id: str, vote: int) -> bool:
        return self._idempotent(lambda: super(PostgresStorage, self).vote(question_id, user_id, vote))

    def set_chat(self, *args: Any, **kwargs: Any) -> ChatConfig:
        return self._idempotent(lambda: super(PostgresStorage, self).set_chat(*args, **kwargs))

    def forget_conversation(self, platform: str, key: str, idle_since: float | None = None) -> None:
        return self._idempotent(lambda: super(PostgresStorage, self).forget_conversation(platform, key, idle_since))

    def expire_conversations(self, idle_since: float) -> int:
        return self._idempotent(lambda: super(PostgresStorage, self).expire_conversations(idle_since))

    def schema_version(self) -> int:
        return self._idempotent(self._schema_version)

    def _schema_version(self) -> int:
        with self._transaction() as cursor:
            if not cursor.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]:
                return 0
            return int(cursor.execute("SELECT version FROM schema_version").fetchone()[0])

    def migrate(self) -> int:
        """Run the migrations this database has not seen yet, in one transaction; returns the version."""
        return self._idempotent(self._migrate)

    def _migrate(self) -> int:
        with self._transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            cursor.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = cursor.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                cursor.execute("INSERT INTO schema_version VALUES (0)")
            version = row[0] if row else 0
            for number, script in enumerate(POSTGRES_MIGRATIONS[version:], start=version + 1):
                for statement in statements(script):
                    cursor.execute(statement)
                cursor.execute("UPDATE schema_version SET version = %s", (number,))
                logger.info("state database migrated to schema version %d", number)
        return len(POSTGRES_MIGRATIONS)


def open_state(settings: Settings) -> Storage:
    """The configured state database: SQLite (``chat.database``) or PostgreSQL (``database_url``)."""
    if settings.state_backend == "postgres":
        return PostgresStorage(settings.database_url.get_secret_value())
    return open_storage(settings.chat.database)


# --------------------------------------------------------------------------- migrate-state

# Parents first: feedback refers to questions, a conversation's turns and links to it.
TABLES = ("questions", "feedback", "chats", "conversations", "conversation_turns", "conversation_links")


@dataclass
class CopyReport:
    counts: dict[str, int]

    def summary(self) -> str:
        return "copied " + ", ".join(f"{n} {table}" for table, n in self.counts.items())


class StateNotEmpty(ValueError):
    """PostgreSQL already holds state: copying again would duplicate or clash with it."""


def copy_sqlite(source: SQLiteStorage, target: PostgresStorage) -> CopyReport:
    """Copy every row of every table, ids kept, in one transaction; verified by counting afterwards."""
    if source.schema_version() != target.schema_version():
        raise ValueError(
            f"schema versions differ (SQLite {source.schema_version()}, PostgreSQL {target.schema_version()})"
        )
    counts: dict[str, int] = {}
    with target._transaction() as cursor:
        for table in TABLES:
            present = cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if present:
                raise StateNotEmpty(
                    f"PostgreSQL already holds {present} row(s) in {table}: nothing copied. "
                    "migrate-state fills an empty database only."
                )
        for table in TABLES:
            columns = [row[1] for row in source._read(f"PRAGMA table_info({table})")]
            rows = source._read(f"SELECT {', '.join(columns)} FROM {table}")
            names = ", ".join(columns)
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table] = len(rows)
        cursor.execute(POSTGRES.ids_continue)  # new questions are numbered after the copied ones
        for table, expected in counts.items():
            copied = cursor.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if copied != expected:
                raise RuntimeError(f"{table}: {copied} rows in PostgreSQL, {expected} in SQLite; rolled back")
    return CopyReport(counts)
