"""The asking flow every chat front end shares: refuse, limit, answer, record, then mark delivered.

Before anything reaches the engine, cheap in-memory checks run on the event loop: is the bot
enabled here, is the question acceptable (empty, too long: the cap is stated), and is the member or
the community over its rate (the refusal says which, and when to retry). A refusal is told once per
window (``Refusal.notify``): a member flooding the bot during a cooldown hears once, a group over its
quota hears once until a place frees, and what follows is dropped quietly and counted
(``held_back``, shown in each front end's stats) instead of answered with a stream of notices. The answer is computed in
a worker thread (at most ``answer_workers`` at once, so the event loop is never starved), stored
with its sources as not yet delivered, and handed back render-neutral: each front end lays it out
its own way, sends it, and only then calls ``delivered``, so a reply the platform rejected is never
counted as answered.

Follow-up questions: a front end names the conversation a question continues (a thread the bot
opened, the answer a message replies to: ``Asking.replied_to``); its earlier turns are the history
the engine answers with. ``delivered`` adds the turn to its conversation and links the posted
answer's message to it, so a reply to that answer continues the conversation. The conversations may
live in the state database (``StoredConversations``), so every look-up and every turn added runs in
a worker thread, like the storage calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from bot.core.engine import Answer, Engine, Turn, clean_question, turn_of
from bot.service.conversations import Conversations, ConversationStore
from bot.service.limits import BUSY, COOLDOWN, RateLimiter
from bot.service.ops import Metrics
from bot.service.storage import Origin, Storage
from bot.service.text import sentence, stored_sources

logger = logging.getLogger(__name__)

PROBLEM, NOT_ENABLED = "problem", "not enabled"
NOTICE_SECONDS = 10.0  # the shortest window in which a member is told a refusal once


@dataclass(frozen=True)
class Refusal:
    """Why a message will not be answered (``reason``: ``PROBLEM``, ``NOT_ENABLED``, ``COOLDOWN`` or
    ``BUSY``; ``text``: full sentences). ``notify``: the first refusal of its kind in its window,
    to be told; when False, whoever it concerns was told already, so the message is dropped
    quietly. ``seconds``: how long the window lasts; a notice not sent by then is stale."""

    reason: str
    text: str
    notify: bool
    seconds: float

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Asked:
    """One answered (or declined) question, stored as ``question_id``; render it, send it, then
    report delivery with ``Asking.delivered``."""

    answer: Answer
    question_id: int
    latency_ms: float
    origin: Origin | None = None
    conversation: str | None = None  # the conversation it continued, if any
    received: float | None = None  # time.monotonic() when it was accepted (the member's wait starts)

    @property
    def has_sources(self) -> bool:
        return bool(self.answer.sources or self.answer.closest)


class Asking:
    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        limiter: RateLimiter,
        *,
        answer_workers: int = 2,
        log_question_text: bool = False,
        conversations: ConversationStore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics if metrics is not None else Metrics()
        self.conversations: ConversationStore = conversations if conversations is not None else Conversations()
        self.storage = storage
        self.limiter = limiter
        self.log_question_text = log_question_text
        self.latencies: deque[float] = deque(maxlen=2000)
        # Messages dropped quietly since the start: (platform, community, reason) -> count.
        self.held_back: Counter[tuple[str, str | None, str]] = Counter()
        # Worker threads beyond the CPU count add no throughput but contend for the GIL with the loop.
        self.slots = asyncio.Semaphore(answer_workers)

    @property
    def max_question_chars(self) -> int:
        return self.engine.settings.max_question_chars

    def refusal(
        self, question: str, origin: Origin, *, enabled: bool = True, not_enabled: str = "", hint: str = ""
    ) -> Refusal | None:
        """Why this question will not be answered, or None, in which case it counts against the
        limits. In memory only (or one Redis round trip): it runs on the event loop."""
        member = (origin.platform, origin.user_id)
        notice_seconds = max(self.limiter.user_cooldown, NOTICE_SECONDS)
        if not enabled:
            return self._refused(NOT_ENABLED, not_enabled, origin, (*member, origin.chat_id), notice_seconds)
        clean = clean_question(question, self.max_question_chars)
        if clean.problem is not None:
            text = " ".join(filter(None, (sentence(clean.problem), hint)))
            return self._refused(PROBLEM, text, origin, member, notice_seconds)
        community = (origin.platform, origin.community_id or origin.chat_id)  # a private chat is its own
        wait = self.limiter.check(community, member)
        if wait is None:
            return None
        about = member if wait.reason == COOLDOWN else community
        return self._refused(wait.reason, wait.message(), origin, about, wait.seconds)

    def _refused(self, reason: str, text: str, origin: Origin, about: tuple, seconds: float) -> Refusal:
        """The refusal, told only if it is the first about ``about`` in ``seconds``; else counted."""
        notify = self.limiter.first_notice((reason.replace(" ", "_"), *about), seconds)
        self.metrics.refusals.labels(origin.platform, reason.replace(" ", "_"), "yes" if notify else "no").inc()
        where = f"{origin.platform} {origin.community_id or 'private chat'}"
        fields = {"platform": origin.platform, "outcome": "refused", "reason": reason, "community": origin.community_id}
        if notify:
            scope = "the group" if reason == BUSY else "the member"
            logger.info(
                "%s: refused (%s); %s is told once, then dropped quietly for %.0f s",
                where,
                reason,
                scope,
                seconds,
                extra=fields,
            )
        else:
            self.held_back[(origin.platform, origin.community_id, reason)] += 1
            logger.debug("%s: dropped quietly (%s)", where, reason, extra=fields | {"outcome": "dropped"})
        return Refusal(reason, text, notify, seconds)

    def held_back_in(self, platform: str, community: Hashable | None) -> Counter[str]:
        """Messages dropped quietly in one community (None: private chats) since the start, by reason."""
        return Counter({reason: n for (p, c, reason), n in self.held_back.items() if p == platform and c == community})

    async def answer(self, question: str, origin: Origin, *, conversation: str | None = None) -> Asked:
        """Answer in a worker thread and store it (also off the loop), not yet delivered.

        ``conversation``: the key of the conversation this question continues (None: it starts one);
        its remembered turns are the history a follow-up leans on.
        """
        received = time.monotonic()
        try:
            return await self._answer(question, origin, conversation, received)
        except Exception:
            self.metrics.questions.labels(origin.platform, "failed").inc()
            raise

    async def _answer(self, question: str, origin: Origin, conversation: str | None, received: float) -> Asked:
        history: list[Turn] = []
        if conversation is not None:
            history = await asyncio.to_thread(self.conversations.history, origin.platform, conversation)
        async with self.slots:
            started = time.perf_counter()
            answer: Answer = await asyncio.to_thread(self.engine.answer, question, history or None)
            latency_ms = (time.perf_counter() - started) * 1000
        self.latencies.append(latency_ms)
        self.metrics.engine_seconds.observe(latency_ms / 1000)
        question_id = await asyncio.to_thread(
            self.storage.record_question,
            origin,
            question=answer.question,
            answered=answer.answered,
            answer=answer.text,
            sources=stored_sources(answer),
            confidence=answer.confidence,
            latency_ms=latency_ms,
            delivered=False,
        )
        self._log(question_id, answer, origin, latency_ms)
        return Asked(answer, question_id, latency_ms, origin, conversation, received)

    async def delivered(
        self, asked: Asked, *, conversation: str | None = None, message_ids: Sequence[str] = ()
    ) -> None:
        """The platform accepted the reply: count it in the reports, and remember the turn in its
        conversation (``asked.conversation``, or ``conversation`` for one it starts), linked to the
        messages the answer was posted as (``message_ids``), so a reply to it continues the conversation."""
        platform = asked.origin.platform if asked.origin is not None else "unknown"
        self.metrics.questions.labels(platform, "answered" if asked.answer.answered else "declined").inc()
        if asked.received is not None:
            self.metrics.answer_seconds.labels(platform).observe(time.monotonic() - asked.received)
        await asyncio.to_thread(self._deliver, asked, asked.conversation or conversation, list(message_ids))

    async def replied_to(self, platform: str, message_id: str | None) -> str | None:
        """The conversation a message continues when it replies to one of the bot's answers still
        remembered (``Conversations.replied_to``, off the event loop); None otherwise."""
        if message_id is None:
            return None
        return await asyncio.to_thread(self.conversations.replied_to, platform, message_id)

    def _deliver(self, asked: Asked, key: str | None, message_ids: list[str]) -> None:
        """In a worker thread: count the answer, then remember its turn (a failure to remember is
        logged: the answer was delivered all the same, and the next question stands on its own)."""
        self.storage.mark_delivered(asked.question_id, message_ids[0] if message_ids else None)
        if key is None or asked.origin is None:
            return
        try:
            self.conversations.add(asked.origin.platform, key, turn_of(asked.answer), message_ids)
        except Exception:
            logger.exception("remembering a turn of conversation %s failed", key)

    def _log(self, question_id: int, answer: Answer, origin: Origin, latency_ms: float) -> None:
        outcome = "answered" if answer.answered else "declined"
        where = f"{origin.platform} {origin.community_id}"
        fields = {
            "question_id": question_id,
            "platform": origin.platform,
            "outcome": outcome,
            "latency_ms": round(latency_ms, 1),
            "community": origin.community_id,
        }
        if self.log_question_text:
            logger.info(
                "question %d %s in %.0f ms (%s, user %s): %r",
                question_id,
                outcome,
                latency_ms,
                where,
                origin.user_id,
                answer.question,
                extra=fields,
            )
        else:
            logger.info("question %d %s in %.0f ms (%s)", question_id, outcome, latency_ms, where, extra=fields)
