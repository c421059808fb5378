"""What one process shares among its front ends: one engine, one database (questions, votes, chats
and conversations: shared with every other process on PostgreSQL), one rate limiter, one asking
flow, the moderators' notes, and one loop that picks up an index rebuilt by ``launchbot index`` in
another process and deletes questions older than ``state.retention_days`` (hourly).

``launchbot serve`` builds one ``Services`` and hands it to the Discord client and the Telegram
application alike; ``start_reloading`` is idempotent, so whichever front end starts first starts
the loop and the others share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable

from bot.config import Settings
from bot.core.engine import Engine
from bot.service.asking import Asking
from bot.service.conversations import StoredConversations
from bot.service.logs import install_redaction, verbose_logging
from bot.service.notes import Notes
from bot.service.pgstorage import open_state
from bot.service.redis_limits import rate_limiter
from bot.service.reports import DAY
from bot.service.storage import Storage

logger = logging.getLogger(__name__)

EXPIRY_SECONDS = 3600.0  # how often old questions are looked for


def expire_old_questions(storage: Storage, retention_days: int, now: float | None = None) -> int:
    """Delete the questions (and their votes) older than the retention period; how many."""
    removed = storage.expire_questions((time.time() if now is None else now) - retention_days * DAY)
    if removed:
        logger.info("deleted %d question(s) older than %d days (state.retention_days)", removed, retention_days)
    return removed


class Services:
    def __init__(self, settings: Settings, engine: Engine, storage: Storage) -> None:
        self.settings = settings
        self.engine = engine
        self.storage = storage
        chat = settings.chat
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.limiter = rate_limiter(chat.user_cooldown_seconds, chat.questions_per_minute, redis_url)
        self.asking = Asking(
            engine,
            storage,
            self.limiter,
            answer_workers=chat.answer_workers,
            log_question_text=chat.log_question_text,
            conversations=StoredConversations(storage, chat.conversation_turns, chat.conversation_minutes * 60),
        )
        self.notes = Notes(settings, engine, storage)
        self.started = time.time()
        self._reloading: asyncio.Task | None = None
        self._expired = -float("inf")  # when old questions were last deleted (monotonic)

    @property
    def latencies(self):
        return self.asking.latencies

    async def reload_once(self) -> bool:
        """Serve an index that ``launchbot index`` swapped in from another process; True if it did.
        A failed check keeps the current index serving."""
        try:
            if await asyncio.to_thread(self.engine.reload_if_changed):
                logger.info("picked up a new index: %s", self.engine.index.path.name)
                return True
        except Exception:
            logger.exception("checking for a new index failed; still serving the current one")
        return False

    def start_reloading(self) -> None:
        """Check for a new index every ``chat.reload_check_seconds``, once per process; with the
        PostgreSQL index, also reload the moment a build anywhere is announced (LISTEN/NOTIFY)."""
        if self._reloading is None and self.engine is not None:
            self.engine.watch()
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.get_running_loop().create_task(self._reload_forever(), name="index reload")

    async def stop_reloading(self) -> None:
        task, self._reloading = self._reloading, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def expire_once(self) -> int:
        """Delete questions past ``state.retention_days`` (off the loop); a failure is logged."""
        self._expired = time.monotonic()
        try:
            return await asyncio.to_thread(expire_old_questions, self.storage, self.settings.state.retention_days)
        except Exception:
            logger.exception("deleting expired questions failed; trying again in an hour")
            return 0

    async def _reload_forever(self) -> None:
        while True:
            if time.monotonic() - self._expired >= EXPIRY_SECONDS:
                await self.expire_once()
            await asyncio.sleep(self.settings.chat.reload_check_seconds)
            await self.reload_once()


def run_services(
    settings: Settings,
    main: Callable[[Services], Awaitable[None]],
    *,
    secrets: Iterable[str] = (),
    engine: Engine | None = None,
) -> None:
    """Open the engine (building or updating the index if needed) and the database, run ``main``
    on a new event loop until it returns or Ctrl-C, then close the database. ``secrets`` are
    redacted from every log line; ``engine``: an opened engine to serve instead (tests)."""
    verbose_logging()
    for secret in secrets:
        install_redaction(secret)
    if engine is None:
        engine = Engine(settings)
        engine.open(notify=lambda message: print(message, file=sys.stderr))
    storage = open_state(settings)  # SQLite, or PostgreSQL with state_backend: postgres
    try:
        asyncio.run(main(Services(settings, engine, storage)))
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        storage.close()
