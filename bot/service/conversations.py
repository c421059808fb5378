"""Conversations the chat front ends remember, so a follow-up question can lean on earlier turns.

A conversation is a key a front end chooses: a Discord thread the bot opened, or a chain of replies
to the bot's answers (Discord and Telegram alike: each answer the bot posts is *linked* to its
conversation, so a reply to it continues that conversation). Each keeps its last ``max_turns``
turns, and is forgotten ``ttl_seconds`` after its last turn: its question text goes with it. The
text a conversation keeps is only what the engine needs for context (the questions, and the
sentences quoted for them); whether questions are logged or kept in reports is ``log_question_text``,
as before, and is not extended by this store.

In memory on purpose: context older than half an hour is not worth keeping, a lookup runs on the
event loop before every question, and a restart forgetting it is harmless (the next question is
answered on its own). Thread-safe, with an injectable clock so tests move time instead of sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.core.conversation import Turn

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0  # expired conversations are looked for at most this often


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
