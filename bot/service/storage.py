"""What the bot remembers on every platform: questions asked, answers given, feedback, chat settings,
and the conversations follow-up questions continue.

``Storage`` is the interface the front ends use; ``SQLiteStorage`` implements it with the stdlib
``sqlite3`` behind a lock, safe from the worker threads it is called from (``asyncio.to_thread``: a
disk write must never stall the event loop). The queries live in ``SQLStorage`` in portable SQL
(``?`` placeholders, ``RETURNING``, ``ON CONFLICT``, ``CASE`` sums); only the connection, the
placeholder style and the way migrations are run are a dialect's own (the migrations themselves are
written once, in ``schema.py``), so another database implements ``SQLStorage``'s few hooks and
reuses every query.

One schema for every platform: each row says its ``platform`` and keeps ids as text (Discord
snowflakes and Telegram ids alike). ``community_id`` is what reports are about (a Discord server,
a Telegram group); ``chat_id`` where it was asked (a channel, a chat); ``thread_id`` a thread or
forum topic. A question is recorded when answered and marked ``delivered`` once the platform accepted
the reply: reports count only delivered answers. Answers keep their sources as JSON, so the
"Sources" button still works after a restart. A conversation is its recent turns (the question and
the sentences quoted for it) and the answer messages linked to it, so a reply to any of them continues
it; ``bot/service/conversations.py`` decides when one has gone idle and is forgotten.

Privacy: reports (``stats``, ``gaps``, ``activity``) return questions and counts, never who asked
(a gap carries only an opaque ``asker`` key, to count people); ``forget_member`` removes one
member's questions and votes; ``expire_questions`` removes questions past the retention period.
Reports take ``EVERY`` for the platform or the community to cover them all (``launchbot report``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.core.engine import Turn
from bot.service.schema import SQLITE, migrations, statements

logger = logging.getLogger(__name__)

UP, DOWN = 1, -1
EVERY = "*"  # a report's platform or community: all of them
MODES = ("mention", "thread")
PLATFORMS = ("discord", "telegram")


@dataclass(frozen=True)
class Origin:
    """Where a question came from. Ids are text whatever the platform's own type."""

    platform: str
    community_id: str | None
    chat_id: str | None
    user_id: str
    thread_id: str | None = None


@dataclass(frozen=True)
class StoredSource:
    """What the "Sources" button shows, kept with the answer so it outlives the process."""

    number: int
    label: str
    quote: str
    context: str


@dataclass(frozen=True)
class StoredAnswer:
    id: int
    question: str
    answered: bool
    sources: list[StoredSource]


@dataclass(frozen=True)
class ChatConfig:
    """Whether (and how) the bot answers in one channel or chat."""

    community_id: str | None
    enabled: bool = False
    mode: str = "mention"


@dataclass
class Stats:
    asked: int = 0
    answered: int = 0
    declined: int = 0
    up: int = 0
    down: int = 0
    top: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class StoredConversation:
    turns: list[Turn]
    updated: float  # when its last turn was added (the conversations' clock)


@dataclass(frozen=True)
class Gap:
    """A question the knowledge base did not serve: declined, or answered and voted down.
    ``asker`` is an opaque key (a hash of platform and member) for counting how many people asked;
    it is never shown."""

    id: int
    created: float
    question: str
    answered: bool
    confidence: float
    up: int
    down: int
    asker: str = field(default="", repr=False)


@dataclass(frozen=True)
class Activity:
    """One delivered question, for charts: when, whether it was answered, and its votes."""

    created: float
    answered: bool
    up: int
    down: int


@dataclass(frozen=True)
class Waiting:
    """An unserved question (declined, or voted down) and where its answer was posted: a member can
    be told there, in its thread or reply chain, once the question has an answer. Nothing says who
    asked."""

    id: int
    question: str
    created: float
    chat_id: str | None
    thread_id: str | None
    answer_message: str | None


@dataclass(frozen=True)
class Forgotten:
    questions: int
    votes: int


class Storage(ABC):
    """The questions, votes, chat settings and conversations of every front end."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raises unless the database answers (``/readyz``)."""

    @abstractmethod
    def record_question(
        self,
        origin: Origin,
        *,
        question: str,
        answered: bool,
        answer: str = "",
        sources: Sequence[StoredSource] = (),
        confidence: float = 0.0,
        latency_ms: float = 0.0,
        delivered: bool = True,
        created: float | None = None,
    ) -> int:
        """Store one answered or declined question (asked now, or at ``created``: an import); returns its
        id (the answer's id on its buttons)."""

    @abstractmethod
    def mark_delivered(self, question_id: int, answer_message: str | None = None) -> None:
        """The platform accepted the reply (posted as ``answer_message``): from now on it counts in reports."""

    @abstractmethod
    def get_answer(self, question_id: int) -> StoredAnswer | None: ...

    @abstractmethod
    def vote(self, question_id: int, user_id: str, vote: int) -> bool:
        """One vote per user per answer; voting again replaces it. False if the answer is unknown."""

    @abstractmethod
    def votes(self, question_id: int) -> tuple[int, int]:
        """(👍, 👎) counts for one answer."""

    @abstractmethod
    def set_chat(
        self,
        platform: str,
        chat_id: str,
        community_id: str | None,
        *,
        enabled: bool | None = None,
        mode: str | None = None,
    ) -> ChatConfig: ...

    @abstractmethod
    def chats(self, platform: str) -> dict[str, ChatConfig]:
        """Every configured chat of a platform, for the front end's in-memory copy."""

    @abstractmethod
    def stats(self, platform: str, community_id: str | None, since: float, top: int = 5) -> Stats: ...

    @abstractmethod
    def gaps(self, platform: str, community_id: str | None, since: float, limit: int = 1000) -> list[Gap]:
        """Declined questions and answers voted down more than up: what the articles are missing."""

    @abstractmethod
    def activity(self, platform: str, community_id: str | None, since: float) -> list[Activity]:
        """Every delivered question since ``since``, oldest first, with its votes (for charts)."""

    @abstractmethod
    def waiting(self, platform: str, community_id: str | None, since: float) -> list[Waiting]:
        """The questions ``gaps`` lists (declined, or voted down more than up) asked since ``since``,
        newest first, with where their answer was posted."""

    @abstractmethod
    def forget_member(self, platform: str, user_id: str) -> Forgotten:
        """Delete every question a member asked on ``platform`` (with the votes on them) and every vote
        they gave; how many of each."""

    @abstractmethod
    def expire_questions(self, before: float) -> int:
        """Delete questions asked before ``before`` (with their votes); how many."""

    @abstractmethod
    def conversation(self, platform: str, key: str) -> StoredConversation | None:
        """A conversation's turns, oldest first, and when it last had one; None if unknown."""

    @abstractmethod
    def linked_conversation(self, platform: str, message_id: str) -> tuple[str, float] | None:
        """The conversation an answer message is linked to, and when it last had a turn; None if none."""

    @abstractmethod
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
        """In one transaction: forget the conversation if its last turn is at or before ``idle_since``,
        append ``turn`` at time ``now`` keeping the last ``max_turns``, link ``message_ids`` to it."""

    @abstractmethod
    def forget_conversation(self, platform: str, key: str, idle_since: float | None = None) -> None:
        """Delete a conversation with its turns and links (with ``idle_since``: only if its last turn
        is at or before it, so a turn another process has just added is kept)."""

    @abstractmethod
    def expire_conversations(self, idle_since: float) -> int:
        """Delete every conversation whose last turn is at or before ``idle_since``; how many."""

    @abstractmethod
    def conversation_count(self) -> int: ...


# Vote counts over ``feedback f`` (a LEFT JOIN's missing vote counts as neither).
_UP = "COALESCE(SUM(CASE WHEN f.vote = 1 THEN 1 ELSE 0 END), 0)"
_DOWN = "COALESCE(SUM(CASE WHEN f.vote = -1 THEN 1 ELSE 0 END), 0)"


class SQLStorage(Storage):
    """Every query, in SQL that SQLite and PostgreSQL both run. Subclasses give the connection
    (``_transaction``, ``_read``), the placeholder style (``PLACEHOLDER``) and the schema."""

    PLACEHOLDER = "?"
    NULL_SAFE_EQUALS = "IS NOT DISTINCT FROM"  # = that also matches NULL to NULL

    @abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction, rolled back on any error."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def _sql(self, sql: str) -> str:
        return sql if self.PLACEHOLDER == "?" else sql.replace("?", self.PLACEHOLDER)

    def _write(self, cursor: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor.execute(self._sql(sql), tuple(params))
        return cursor

    # ------------------------------------------------------------------ questions

    def record_question(
        self,
        origin: Origin,
        *,
        question: str,
        answered: bool,
        answer: str = "",
        sources: Sequence[StoredSource] = (),
        confidence: float = 0.0,
        latency_ms: float = 0.0,
        delivered: bool = True,
        created: float | None = None,
    ) -> int:
        payload = json.dumps([asdict(source) for source in sources], ensure_ascii=False)
        row = (
            origin.platform,
            origin.community_id,
            origin.chat_id,
            origin.thread_id,
            origin.user_id,
            question,
            int(answered),
            answer,
            payload,
            float(confidence),
            float(latency_ms),
            time.time() if created is None else float(created),
            int(delivered),
        )
        with self._transaction() as cursor:
            self._write(
                cursor,
                "INSERT INTO questions (platform, community_id, chat_id, thread_id, user_id, question, answered,"
                " answer, sources, confidence, latency_ms, created, delivered)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                row,
            )
            return int(cursor.fetchone()[0])

    def mark_delivered(self, question_id: int, answer_message: str | None = None) -> None:
        with self._transaction() as cursor:
            self._write(
                cursor,
                "UPDATE questions SET delivered = 1, answer_message = ? WHERE id = ?",
                (answer_message, question_id),
            )

    def get_answer(self, question_id: int) -> StoredAnswer | None:
        rows = self._read("SELECT id, question, answered, sources FROM questions WHERE id = ?", (question_id,))
        if not rows:
            return None
        row = rows[0]
        sources = [StoredSource(**item) for item in json.loads(row[3])]
        return StoredAnswer(row[0], row[1], bool(row[2]), sources)

    # ------------------------------------------------------------------ feedback

    def vote(self, question_id: int, user_id: str, vote: int) -> bool:
        if vote not in (UP, DOWN):
            raise ValueError(f"vote must be {UP} or {DOWN}")
        with self._transaction() as cursor:
            if self._write(cursor, "SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                return False
            self._write(
                cursor,
                "INSERT INTO feedback (question_id, user_id, vote, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (question_id, user_id) DO UPDATE SET vote = excluded.vote,"
                " updated = excluded.updated",
                (question_id, str(user_id), vote, time.time()),
            )
            return True

    def votes(self, question_id: int) -> tuple[int, int]:
        [row] = self._read(f"SELECT {_UP}, {_DOWN} FROM feedback f WHERE f.question_id = ?", (question_id,))
        return int(row[0]), int(row[1])

    # ------------------------------------------------------------------ chats

    def set_chat(
        self,
        platform: str,
        chat_id: str,
        community_id: str | None,
        *,
        enabled: bool | None = None,
        mode: str | None = None,
    ) -> ChatConfig:
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        key = (platform, str(chat_id))
        with self._transaction() as cursor:
            self._write(
                cursor,
                "INSERT INTO chats (platform, chat_id, community_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (*key, community_id),
            )
            if enabled is not None:
                self._write(
                    cursor, "UPDATE chats SET enabled = ? WHERE platform = ? AND chat_id = ?", (int(enabled), *key)
                )
            if mode is not None:
                self._write(cursor, "UPDATE chats SET mode = ? WHERE platform = ? AND chat_id = ?", (mode, *key))
            row = self._write(
                cursor, "SELECT community_id, enabled, mode FROM chats WHERE platform = ? AND chat_id = ?", key
            ).fetchone()
        return ChatConfig(row[0], bool(row[1]), row[2])

    def chats(self, platform: str) -> dict[str, ChatConfig]:
        rows = self._read("SELECT chat_id, community_id, enabled, mode FROM chats WHERE platform = ?", (platform,))
        return {row[0]: ChatConfig(row[1], bool(row[2]), row[3]) for row in rows}

    # ------------------------------------------------------------------ reports

    def _scope(self, platform: str, community_id: str | None, since: float, table: str = "") -> tuple[str, tuple]:
        """Delivered questions of one platform's community (``EVERY``: all of them) since a time:
        the condition and its parameters."""
        t = f"{table}." if table else ""
        conditions, params = [f"{t}created >= ?", f"{t}delivered = 1"], [since]
        if platform != EVERY:
            conditions.append(f"{t}platform = ?")
            params.append(platform)
        if community_id != EVERY:
            conditions.append(f"{t}community_id {self.NULL_SAFE_EQUALS} ?")
            params.append(community_id)
        return " AND ".join(conditions), tuple(params)

    def stats(self, platform: str, community_id: str | None, since: float, top: int = 5) -> Stats:
        where, params = self._scope(platform, community_id, since)
        where_q, _ = self._scope(platform, community_id, since, "q")
        [(asked, answered)] = self._read(
            f"SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE {where}", params
        )
        [(up, down)] = self._read(
            f"SELECT {_UP}, {_DOWN} FROM feedback f JOIN questions q ON q.id = f.question_id WHERE {where_q}", params
        )
        top_rows = self._read(
            f"SELECT MIN(question), COUNT(*) AS n FROM questions WHERE {where}"
            " GROUP BY lower(question) ORDER BY n DESC, MAX(created) DESC LIMIT ?",
            (*params, top),
        )
        return Stats(asked, answered, asked - answered, int(up), int(down), [(row[0], row[1]) for row in top_rows])

    def gaps(self, platform: str, community_id: str | None, since: float, limit: int = 1000) -> list[Gap]:
        where, params = self._scope(platform, community_id, since, "q")
        rows = self._read(
            f"SELECT q.id, q.created, q.question, q.answered, q.confidence, {_UP}, {_DOWN}, q.platform, q.user_id"
            " FROM questions q LEFT JOIN feedback f ON f.question_id = q.id"
            f" WHERE {where} GROUP BY q.id, q.created, q.question, q.answered, q.confidence, q.platform, q.user_id"
            f" HAVING q.answered = 0 OR {_DOWN} > {_UP} ORDER BY q.created DESC, q.id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            Gap(row[0], row[1], row[2], bool(row[3]), row[4], int(row[5]), int(row[6]), _asker(row[7], row[8]))
            for row in rows
        ]

    def activity(self, platform: str, community_id: str | None, since: float) -> list[Activity]:
        where, params = self._scope(platform, community_id, since, "q")
        rows = self._read(
            f"SELECT q.created, q.answered, {_UP}, {_DOWN} FROM questions q LEFT JOIN feedback f"
            f" ON f.question_id = q.id WHERE {where} GROUP BY q.id, q.created, q.answered ORDER BY q.created, q.id",
            params,
        )
        return [Activity(float(row[0]), bool(row[1]), int(row[2]), int(row[3])) for row in rows]

    def waiting(self, platform: str, community_id: str | None, since: float) -> list[Waiting]:
        where, params = self._scope(platform, community_id, since, "q")
        rows = self._read(
            "SELECT q.id, q.question, q.created, q.chat_id, q.thread_id, q.answer_message"
            f" FROM questions q LEFT JOIN feedback f ON f.question_id = q.id WHERE {where}"
            " GROUP BY q.id, q.question, q.created, q.chat_id, q.thread_id, q.answer_message, q.answered"
            f" HAVING q.answered = 0 OR {_DOWN} > {_UP} ORDER BY q.created DESC, q.id DESC",
            params,
        )
        return [Waiting(row[0], row[1], float(row[2]), row[3], row[4], row[5]) for row in rows]

    # ------------------------------------------------------------------ privacy

    def forget_member(self, platform: str, user_id: str) -> Forgotten:
        member = (platform, str(user_id))
        with self._transaction() as cursor:
            votes = self._write(
                cursor,
                "DELETE FROM feedback WHERE user_id = ?"
                " AND question_id IN (SELECT id FROM questions WHERE platform = ?)",
                (str(user_id), platform),
            ).rowcount
            questions = self._write(cursor, "DELETE FROM questions WHERE platform = ? AND user_id = ?", member).rowcount
        return Forgotten(questions, votes)

    def expire_questions(self, before: float) -> int:
        with self._transaction() as cursor:  # their votes go with them (ON DELETE CASCADE)
            return self._write(cursor, "DELETE FROM questions WHERE created < ?", (before,)).rowcount

    # ------------------------------------------------------------------ conversations

    def conversation(self, platform: str, key: str) -> StoredConversation | None:
        rows = self._read(
            "SELECT c.updated, t.question, t.quotes FROM conversations c LEFT JOIN conversation_turns t"
            " ON t.platform = c.platform AND t.conversation = c.conversation"
            " WHERE c.platform = ? AND c.conversation = ? ORDER BY t.turn_number",
            (platform, key),
        )
        if not rows:
            return None
        turns = [Turn(row[1], tuple(json.loads(row[2]))) for row in rows if row[1] is not None]
        return StoredConversation(turns, float(rows[0][0]))

    def linked_conversation(self, platform: str, message_id: str) -> tuple[str, float] | None:
        rows = self._read(
            "SELECT c.conversation, c.updated FROM conversation_links l JOIN conversations c"
            " ON c.platform = l.platform AND c.conversation = l.conversation"
            " WHERE l.platform = ? AND l.message_id = ?",
            (platform, message_id),
        )
        return (rows[0][0], float(rows[0][1])) if rows else None

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
        name = (platform, key)
        quotes = json.dumps(list(turn.quotes), ensure_ascii=False)
        with self._transaction() as cursor:
            where = "WHERE platform = ? AND conversation = ?"
            self._write(cursor, f"DELETE FROM conversations {where} AND updated <= ?", (*name, idle_since))
            # The upsert locks the conversation's row (PostgreSQL): turns added at once from two
            # processes are numbered one after the other.
            self._write(
                cursor,
                "INSERT INTO conversations (platform, conversation, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (platform, conversation) DO UPDATE SET updated = excluded.updated",
                (*name, now),
            )
            [number] = self._write(
                cursor, f"SELECT COALESCE(MAX(turn_number), 0) + 1 FROM conversation_turns {where}", name
            ).fetchone()
            self._write(
                cursor,
                "INSERT INTO conversation_turns (platform, conversation, turn_number, question, quotes)"
                " VALUES (?, ?, ?, ?, ?)",
                (*name, number, turn.question, quotes),
            )
            oldest_kept = number - max_turns + 1
            self._write(cursor, f"DELETE FROM conversation_turns {where} AND turn_number < ?", (*name, oldest_kept))
            for message_id in message_ids:
                self._write(
                    cursor,
                    "INSERT INTO conversation_links (platform, message_id, conversation) VALUES (?, ?, ?)"
                    " ON CONFLICT (platform, message_id) DO UPDATE SET conversation = excluded.conversation",
                    (platform, str(message_id), key),
                )

    def forget_conversation(self, platform: str, key: str, idle_since: float | None = None) -> None:
        sql, params = "DELETE FROM conversations WHERE platform = ? AND conversation = ?", (platform, key)
        if idle_since is not None:
            sql, params = f"{sql} AND updated <= ?", (*params, idle_since)
        with self._transaction() as cursor:  # turns and links go with it (ON DELETE CASCADE)
            self._write(cursor, sql, params)

    def expire_conversations(self, idle_since: float) -> int:
        with self._transaction() as cursor:
            return self._write(cursor, "DELETE FROM conversations WHERE updated <= ?", (idle_since,)).rowcount

    def conversation_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM conversations")[0][0])


def _asker(platform: str, user_id: str) -> str:
    """An opaque key for one member, to count people without holding who they are."""
    return hashlib.sha256(f"{platform}\0{user_id}".encode()).hexdigest()[:16]


# Each entry runs once, in order; ``PRAGMA user_version`` says how many have run.
SQLITE_MIGRATIONS: list[str] = migrations(SQLITE)


class SQLiteStorage(SQLStorage):
    """A SQLite file; WAL so reports can read while an answer is written."""

    NULL_SAFE_EQUALS = "IS"  # SQLite before 3.39 has no IS NOT DISTINCT FROM

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self.migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cursor = self._db.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def ping(self) -> None:
        self._read("SELECT 1")

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Run the migrations this file has not seen yet, each in one transaction; returns the version."""
        with self._transaction() as cursor:
            version = cursor.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(SQLITE_MIGRATIONS[version:], start=version + 1):
                for statement in statements(script):
                    cursor.execute(statement)
                cursor.execute(f"PRAGMA user_version = {number}")
                logger.info("database %s migrated to schema version %d", self.path, number)
        return len(SQLITE_MIGRATIONS)


def open_storage(database: Path) -> Storage:
    """The configured database (a SQLite file today)."""
    return SQLiteStorage(database)
