"""One send queue per chat: answers go first, then replies to commands, then notices, within the
chat's send budget (Telegram lets a bot send 20 messages a minute into one group).

Why a queue of our own: a platform's rate limiter sends in arrival order, so twenty "you're on a
cooldown" notices can hold a member's answer back for a minute. Here each chat has a heap ordered
by priority, then arrival, and one pump task that sends from it, one post at a time (an answer's
pieces stay together). The budget rules:

- a message counts against its chat's budget (``budget(chat)`` messages per ``period`` seconds, a
  sliding window, each counted when the platform has accepted it); a reaction does not count;
- a question accepted by the limits holds a place (``hold``) from that moment until its answer is
  sent, so a notice or a command reply sent meanwhile never takes the place an answer needs;
- a notice still waiting when its window ends (``expires_in``) is dropped: it would be stale.

Chats without a budget (``budget`` returns None: private chats) keep only the order. ``period`` is
a setting so tests can run Telegram's minute as half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

ANSWER, REPLY, NOTICE = 0, 1, 2  # priorities: lower goes first
Send = Callable[[], Awaitable[Any]]


class Place:
    """A place held in a chat's send budget for an answer being made; released when the answer
    starts sending, or by the caller if it never does (``release`` is idempotent)."""

    def __init__(self, box: _Chat | None) -> None:
        self._box = box

    def release(self) -> None:
        if self._box is not None:
            self._box.held -= 1
            self._box.changed.set()
            self._box = None


@dataclass(order=True)
class _Post:
    priority: int
    order: int
    sends: Sequence[Send] = field(compare=False)
    counted: bool = field(compare=False)
    expires: float = field(compare=False)
    place: Place | None = field(compare=False)
    done: asyncio.Future = field(compare=False)


@dataclass
class _Chat:
    limit: int | None
    heap: list[_Post] = field(default_factory=list)
    sent: deque[float] = field(default_factory=deque)  # when each counted message was accepted
    held: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task | None = None


class Outbox:
    def __init__(
        self,
        budget: Callable[[Hashable], int | None],
        *,
        period: float = 60.0,
    ) -> None:
        self.budget = budget
        self.period = period
        self.clock = time.monotonic
        self._chats: dict[Hashable, _Chat] = {}
        self._order = itertools.count()
        self.dropped = 0  # stale notices never sent

    def hold(self, chat: Hashable) -> Place:
        """Hold a place in ``chat``'s budget for an answer about to be made."""
        box = self._chat(chat)
        if box.limit is None:
            return Place(None)
        box.held += 1
        return Place(box)

    async def post(
        self,
        chat: Hashable,
        sends: Sequence[Send],
        *,
        priority: int,
        counted: bool = True,
        expires_in: float | None = None,
        place: Place | None = None,
    ) -> list[Any] | None:
        """Run ``sends`` in order when their turn comes; what they returned, or None when the post
        went stale (``expires_in`` seconds passed before its turn). ``counted``: they send messages
        (not reactions). ``place``: the place this answer held, given up as it starts sending. An
        exception from a send ends the post and is raised here."""
        box = self._chat(chat)
        expires = math.inf if expires_in is None else self.clock() + expires_in
        done = asyncio.get_running_loop().create_future()
        heapq.heappush(box.heap, _Post(priority, next(self._order), sends, counted, expires, place, done))
        box.changed.set()
        if box.pump is None or box.pump.done():
            box.pump = asyncio.get_running_loop().create_task(self._pump(chat, box), name=f"outbox {chat}")
        return await done

    def _chat(self, chat: Hashable) -> _Chat:
        box = self._chats.get(chat)
        if box is None:
            if len(self._chats) >= 1000:
                self._forget_idle()
            box = self._chats[chat] = _Chat(self.budget(chat))
        return box

    def _forget_idle(self) -> None:
        """Keep memory bounded: a chat with nothing queued, held or in its window needs no entry."""
        for chat, box in list(self._chats.items()):
            if (box.pump is None or box.pump.done()) and not box.held and self._free(box) >= (box.limit or 0):
                del self._chats[chat]

    def _free(self, box: _Chat) -> float:
        """Messages ``box`` may send now (infinite without a budget)."""
        if box.limit is None:
            return math.inf
        now = self.clock()
        while box.sent and now - box.sent[0] >= self.period:
            box.sent.popleft()
        return box.limit - len(box.sent)

    def _may_go(self, box: _Chat, post: _Post) -> bool:
        if not post.counted:
            return True
        free = self._free(box)
        if post.priority == ANSWER:
            return free >= 1
        return free - box.held >= 1  # only what no answer being made will need

    async def _pump(self, chat: Hashable, box: _Chat) -> None:
        while box.heap:
            box.changed.clear()
            now = self.clock()
            for post in [p for p in box.heap if p.expires <= now]:
                box.heap.remove(post)
                self.dropped += 1
                logger.debug("outbox %s: a notice went stale unsent", chat)
                if not post.done.done():
                    post.done.set_result(None)
            heapq.heapify(box.heap)
            ready = next((p for p in sorted(box.heap) if self._may_go(box, p)), None)
            if ready is None:
                if box.heap:
                    await self._wait(box)
                continue
            box.heap.remove(ready)
            heapq.heapify(box.heap)
            await self._run(box, ready)
        if not box.sent and not box.held:
            self._chats.pop(chat, None)  # nothing to remember: keep memory bounded

    async def _run(self, box: _Chat, post: _Post) -> None:
        if post.place is not None:
            post.place.release()
        results = []
        try:
            for number, send in enumerate(post.sends):
                if post.counted and number and self._free(box) < 1:  # an answer's later pieces
                    await self._until_free(box)
                try:
                    results.append(await send())
                finally:
                    if post.counted and box.limit is not None:
                        box.sent.append(self.clock())
        except Exception as error:
            if not post.done.done():
                post.done.set_exception(error)
            return
        if not post.done.done():
            post.done.set_result(results)

    def _next_change(self, box: _Chat) -> float | None:
        """Seconds until the window frees a message or a waiting post goes stale (None: neither)."""
        now = self.clock()
        moments = [p.expires for p in box.heap if p.expires < math.inf]
        if box.sent:
            moments.append(box.sent[0] + self.period)
        return max(0.0, min(moments) - now) if moments else None

    async def _wait(self, box: _Chat) -> None:
        """Until something may change: a message leaves the window, a post goes stale, something new
        arrives or a place is released."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(box.changed.wait(), timeout=self._next_change(box))

    async def _until_free(self, box: _Chat) -> None:
        while self._free(box) < 1:
            await asyncio.sleep(max(box.sent[0] + self.period - self.clock(), 0.0))
