"""Conversations the chat front ends remember, so a follow-up question can lean on earlier turns.

A conversation is a key a front end chooses: a Discord thread the bot opened, or a chain of replies
to the bot's answers (Discord and Telegram alike: each answer the bot posts is *linked* to its
conversation, so a reply to it continues that conversation). Each keeps its last ``max_turns``
turns, and is forgotten ``ttl_seconds`` after its last turn: its question text goes with it. The
text a conversation keeps is only what the engine needs for context (the questions, and the
sentences quoted for them); whether questions are logged or kept in reports is ``log_question_text``,
as before, and is not extended by this store.

Two stores with one interface (``ConversationStore``): ``StoredConversations`` keeps them in the
state database (SQLite, or PostgreSQL shared by every bot process), so a reply handled by another
process, or after a restart, continues its conversation; ``launchbot serve`` uses it. ``Conversations``
keeps them in one process's memory (the default of an ``Asking`` built without one). Both are
thread-safe, and the asking flow calls them from worker threads, never on the event loop. Both take
an injectable clock so tests move time instead of sleeping; the stored one's default is the wall
clock, which every process and machine shares.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from bot.core.engine import Turn
from bot.service.storage import Storage

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0  # expired conversations are looked for at most this often


class ConversationStore(Protocol):
    """What the asking flow and the front ends use; ``Conversations`` and ``StoredConversations``."""

    max_turns: int
    ttl_seconds: float
    clock: Callable[[], float]

    def history(self, platform: str, key: str | None) -> list[Turn]: ...

    def add(self, platform: str, key: str, turn: Turn, message_ids: Iterable[str] = ()) -> None: ...

    def replied_to(self, platform: str, message_id: str | None) -> str | None: ...

    def forget(self, platform: str, key: str) -> None: ...

    def expire(self) -> int: ...

    def __len__(self) -> int: ...


@dataclass
class _Conversation:
    turns: list[Turn] = field(default_factory=list)
    updated: float = 0.0
    messages: set[tuple[str, str]] = field(default_factory=set)  # the answers linked to it


class Conversations:
    def __init__(
        self, max_turns: int = 6, ttl_seconds: float = 1800.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_turns = max_turns
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._conversations: dict[tuple[str, str], _Conversation] = {}
        self._links: dict[tuple[str, str], str] = {}  # (platform, answer message) -> conversation key
        self._swept = clock()

    def history(self, platform: str, key: str | None) -> list[Turn]:
        """The turns of a conversation still alive, oldest first (none for an unknown key)."""
        if key is None:
            return []
        with self._lock:
            self._sweep()
            conversation = self._live(platform, key)
            return list(conversation.turns) if conversation else []

    def add(self, platform: str, key: str, turn: Turn, message_ids: Iterable[str] = ()) -> None:
        """Append a turn (keeping the last ``max_turns``) and link the answer's messages to it."""
        if self.max_turns == 0:
            return
        with self._lock:
            self._sweep()
            conversation = self._live(platform, key) or self._conversations.setdefault((platform, key), _Conversation())
            conversation.turns = [*conversation.turns, turn][-self.max_turns :]
            conversation.updated = self.clock()
            for message_id in message_ids:
                self._links[(platform, message_id)] = key
                conversation.messages.add((platform, message_id))

    def replied_to(self, platform: str, message_id: str | None) -> str | None:
        """The conversation an answer belongs to, when a message replies to one of the bot's answers
        that is still remembered; None otherwise."""
        if message_id is None:
            return None
        with self._lock:
            key = self._links.get((platform, message_id))
            return key if key is not None and self._live(platform, key) else None

    def forget(self, platform: str, key: str) -> None:
        with self._lock:
            self._drop((platform, key))

    def expire(self) -> int:
        """Forget every conversation idle for ``ttl_seconds``, with its question text; how many."""
        with self._lock:
            return self._expire()

    def __len__(self) -> int:
        with self._lock:
            return len(self._conversations)

    # ------------------------------------------------------------------ internals (lock held)

    def _live(self, platform: str, key: str) -> _Conversation | None:
        conversation = self._conversations.get((platform, key))
        if conversation is not None and self.clock() - conversation.updated >= self.ttl_seconds:
            self._drop((platform, key))
            return None
        return conversation

    def _sweep(self) -> None:
        if self.clock() - self._swept >= SWEEP_SECONDS:
            self._expire()

    def _expire(self) -> int:
        now = self._swept = self.clock()
        stale = [name for name, c in self._conversations.items() if now - c.updated >= self.ttl_seconds]
        for name in stale:
            self._drop(name)
        if stale:
            logger.debug("forgot %d idle conversations", len(stale))
        return len(stale)

    def _drop(self, name: tuple[str, str]) -> None:
        conversation = self._conversations.pop(name, None)
        if conversation is not None:
            for link in conversation.messages:
                self._links.pop(link, None)


class StoredConversations:
    """Conversations in the state database: the same behaviour as ``Conversations``, shared by every
    process on that database. Each call is one query or one transaction (``add``), so it blocks:
    call it from a worker thread. An idle conversation is deleted when it is next looked up, when
    a turn is added to it, or by a sweep (each process sweeps at most every ``SWEEP_SECONDS``)."""

    def __init__(
        self, storage: Storage, max_turns: int = 6, ttl_seconds: float = 1800.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.max_turns = max_turns
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._swept = clock()

    def history(self, platform: str, key: str | None) -> list[Turn]:
        if key is None:
            return []
        self._sweep()
        stored = self.storage.conversation(platform, key)
        if stored is None or self._idle(platform, key, stored.updated):
            return []
        return stored.turns

    def add(self, platform: str, key: str, turn: Turn, message_ids: Iterable[str] = ()) -> None:
        if self.max_turns == 0:
            return
        self._sweep()
        now = self.clock()
        self.storage.add_turn(
            platform, key, turn, list(message_ids), now=now, max_turns=self.max_turns, idle_since=now - self.ttl_seconds
        )

    def replied_to(self, platform: str, message_id: str | None) -> str | None:
        if message_id is None:
            return None
        linked = self.storage.linked_conversation(platform, message_id)
        if linked is None or self._idle(platform, *linked):
            return None
        return linked[0]

    def forget(self, platform: str, key: str) -> None:
        self.storage.forget_conversation(platform, key)

    def expire(self) -> int:
        with self._lock:
            now = self._swept = self.clock()
        forgotten = self.storage.expire_conversations(now - self.ttl_seconds)
        if forgotten:
            logger.debug("forgot %d idle conversations", forgotten)
        return forgotten

    def __len__(self) -> int:
        return self.storage.conversation_count()

    def _idle(self, platform: str, key: str, updated: float) -> bool:
        """True (and the conversation deleted, question text and all) when its last turn is too old."""
        now = self.clock()
        if now - updated < self.ttl_seconds:
            return False
        self.storage.forget_conversation(platform, key, idle_since=now - self.ttl_seconds)
        return True

    def _sweep(self) -> None:
        with self._lock:
            due = self.clock() - self._swept >= SWEEP_SECONDS
        if due:
            self.expire()
