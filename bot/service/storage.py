"""What the Discord front end remembers: questions asked, answers given, feedback, channel settings.

Plain stdlib ``sqlite3`` behind a lock, so it is safe from the worker threads the bot calls it from
(``asyncio.to_thread``: a disk write must never stall the event loop). The schema is created on
first use and migrated forward by ``PRAGMA user_version``: each entry of ``MIGRATIONS`` runs once.
Answers keep their sources as JSON so the "Sources" button still works after a restart.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER, channel_id INTEGER, user_id INTEGER,
        question TEXT NOT NULL,
        answered INTEGER NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        sources TEXT NOT NULL DEFAULT '[]',
        confidence REAL NOT NULL DEFAULT 0,
        latency_ms REAL NOT NULL DEFAULT 0,
        created REAL NOT NULL
    );
    CREATE INDEX questions_guild_created ON questions (guild_id, created);
    CREATE TABLE feedback (
        question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        updated REAL NOT NULL,
        PRIMARY KEY (question_id, user_id)
    );
    CREATE TABLE channels (
        channel_id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 0,
        mode TEXT NOT NULL DEFAULT 'mention' CHECK (mode IN ('mention', 'thread'))
    );
    """,
]

UP, DOWN = 1, -1
MODES = ("mention", "thread")


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
class ChannelConfig:
    guild_id: int
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
class Gap:
    """A question the knowledge base did not serve: declined, or answered and voted down."""

    id: int
    created: float
    question: str
    answered: bool
    confidence: float
    up: int
    down: int


class Storage:
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
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def migrate(self) -> int:
        """Run the migrations this file has not seen yet; returns the schema version."""
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
                logger.info("database %s migrated to schema version %d", self.path, number)
        return len(MIGRATIONS)

    # ------------------------------------------------------------------ questions

    def record_question(
        self,
        *,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        question: str,
        answered: bool,
        answer: str = "",
        sources: list[StoredSource] = (),
        confidence: float = 0.0,
        latency_ms: float = 0.0,
    ) -> int:
        """Store one answered or declined question; returns its id (the answer's id on its buttons)."""
        payload = json.dumps([asdict(source) for source in sources], ensure_ascii=False)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO questions (guild_id, channel_id, user_id, question, answered, answer, sources,"
                " confidence, latency_ms, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    user_id,
                    question,
                    int(answered),
                    answer,
                    payload,
                    confidence,
                    latency_ms,
                    time.time(),
                ),
            )
            return int(cursor.lastrowid)

    def get_answer(self, question_id: int) -> StoredAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, question, answered, sources FROM questions WHERE id = ?", (question_id,)
            ).fetchone()
        if row is None:
            return None
        sources = [StoredSource(**item) for item in json.loads(row[3])]
        return StoredAnswer(row[0], row[1], bool(row[2]), sources)

    # ------------------------------------------------------------------ feedback

    def vote(self, question_id: int, user_id: int, vote: int) -> bool:
        """One vote per user per answer; voting again replaces it. False if the answer is unknown."""
        if vote not in (UP, DOWN):
            raise ValueError(f"vote must be {UP} or {DOWN}")
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO feedback (question_id, user_id, vote, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (question_id, user_id) DO UPDATE SET vote = excluded.vote,"
                " updated = excluded.updated",
                (question_id, user_id, vote, time.time()),
            )
            return True

    def votes(self, question_id: int) -> tuple[int, int]:
        """(👍, 👎) counts for one answer."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback WHERE question_id = ?",
                (question_id,),
            ).fetchone()
        return int(row[0]), int(row[1])

    # ------------------------------------------------------------------ channels

    def set_channel(
        self, channel_id: int, guild_id: int, *, enabled: bool | None = None, mode: str | None = None
    ) -> ChannelConfig:
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self._transaction() as db:
            db.execute(
                "INSERT INTO channels (channel_id, guild_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (channel_id, guild_id),
            )
            if enabled is not None:
                db.execute("UPDATE channels SET enabled = ? WHERE channel_id = ?", (int(enabled), channel_id))
            if mode is not None:
                db.execute("UPDATE channels SET mode = ? WHERE channel_id = ?", (mode, channel_id))
            row = db.execute(
                "SELECT guild_id, enabled, mode FROM channels WHERE channel_id = ?", (channel_id,)
            ).fetchone()
        return ChannelConfig(row[0], bool(row[1]), row[2])

    def channels(self) -> dict[int, ChannelConfig]:
        """Every configured channel, for the bot's in-memory copy (checked on every message)."""
        with self._lock:
            rows = self._db.execute("SELECT channel_id, guild_id, enabled, mode FROM channels").fetchall()
        return {row[0]: ChannelConfig(row[1], bool(row[2]), row[3]) for row in rows}

    # ------------------------------------------------------------------ reports

    def stats(self, guild_id: int, since: float, top: int = 5) -> Stats:
        with self._lock:
            asked, answered = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions WHERE guild_id = ? AND created >= ?",
                (guild_id, since),
            ).fetchone()
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(f.vote = 1), 0), COALESCE(SUM(f.vote = -1), 0) FROM feedback f"
                " JOIN questions q ON q.id = f.question_id WHERE q.guild_id = ? AND q.created >= ?",
                (guild_id, since),
            ).fetchone()
            top_rows = self._db.execute(
                "SELECT MIN(question), COUNT(*) AS n FROM questions WHERE guild_id = ? AND created >= ?"
                " GROUP BY lower(question) ORDER BY n DESC, MAX(created) DESC LIMIT ?",
                (guild_id, since, top),
            ).fetchall()
        return Stats(asked, answered, asked - answered, up, down, [(row[0], row[1]) for row in top_rows])

    def gaps(self, guild_id: int, since: float, limit: int = 1000) -> list[Gap]:
        """Declined questions and answers voted down more than up: what the articles are missing."""
        with self._lock:
            rows = self._db.execute(
                "SELECT q.id, q.created, q.question, q.answered, q.confidence,"
                " COALESCE(SUM(f.vote = 1), 0) AS up, COALESCE(SUM(f.vote = -1), 0) AS down"
                " FROM questions q LEFT JOIN feedback f ON f.question_id = q.id"
                " WHERE q.guild_id = ? AND q.created >= ? GROUP BY q.id"
                " HAVING q.answered = 0 OR down > up ORDER BY q.created DESC LIMIT ?",
                (guild_id, since, limit),
            ).fetchall()
        return [Gap(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]) for row in rows]
