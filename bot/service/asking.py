"""The asking flow every chat front end shares: refuse, limit, answer, record, then mark delivered.

Before anything reaches the engine, cheap in-memory checks run on the event loop: is the bot
enabled here, is the question acceptable (empty, too long: the cap is stated), and is the member or
the community over its rate (the refusal says which, and when to retry). The answer is computed in
a worker thread (at most ``answer_workers`` at once, so the event loop is never starved), stored
with its sources as not yet delivered, and handed back render-neutral: each front end lays it out
its own way, sends it, and only then calls ``delivered``, so a reply the platform rejected is never
counted as answered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.answer import Answer
from bot.core.engine import Engine
from bot.core.question import clean_question
from bot.service.limits import RateLimiter
from bot.service.storage import Origin, Storage
from bot.service.text import sentence, stored_sources

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asked:
    """One answered (or declined) question, stored as ``question_id``; render it, send it, then
    report delivery with ``Asking.delivered``."""

    answer: Answer
    question_id: int
    latency_ms: float

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
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.limiter = limiter
        self.log_question_text = log_question_text
        self.latencies: deque[float] = deque(maxlen=2000)
        # Worker threads beyond the CPU count add no throughput but contend for the GIL with the loop.
        self.slots = asyncio.Semaphore(answer_workers)

    @property
    def max_question_chars(self) -> int:
        return self.engine.settings.max_question_chars

    def refusal(
        self, question: str, origin: Origin, *, enabled: bool = True, not_enabled: str = "", hint: str = ""
    ) -> str | None:
        """Why this question will not be answered (full sentences), or None, in which case it counts
        against the limits. In memory only: it runs on the event loop."""
        if not enabled:
            return not_enabled
        clean = clean_question(question, self.max_question_chars)
        if clean.problem is not None:
            return " ".join(filter(None, (sentence(clean.problem), hint)))
        community = (origin.platform, origin.community_id or origin.chat_id)  # a private chat is its own
        wait = self.limiter.check(community, (origin.platform, origin.user_id))
        return wait.message() if wait is not None else None

    async def answer(
        self, question: str, origin: Origin, *, conversation: str | None = None, history: Sequence[str] = ()
    ) -> Asked:
        """Answer in a worker thread and store it (also off the loop), not yet delivered.

        ``conversation`` (a key for the thread of questions this one continues) and ``history`` (its
        earlier questions) are accepted for follow-up questions and not used yet: every question is
        answered on its own.
        """
        async with self.slots:
            started = time.perf_counter()
            answer: Answer = await asyncio.to_thread(self.engine.answer, question)
            latency_ms = (time.perf_counter() - started) * 1000
        self.latencies.append(latency_ms)
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
        return Asked(answer, question_id, latency_ms)

    async def delivered(self, asked: Asked) -> None:
        """The platform accepted the reply: count it in the reports."""
        await asyncio.to_thread(self.storage.mark_delivered, asked.question_id)

    def _log(self, question_id: int, answer: Answer, origin: Origin, latency_ms: float) -> None:
        outcome = "answered" if answer.answered else "declined (unanswered)"
        where = f"{origin.platform} {origin.community_id}"
        if self.log_question_text:
            logger.info(
                "question %d %s in %.0f ms (%s, user %s): %r",
                question_id,
                outcome,
                latency_ms,
                where,
                origin.user_id,
                answer.question,
            )
        else:
            logger.info("question %d %s in %.0f ms (%s)", question_id, outcome, latency_ms, where)
