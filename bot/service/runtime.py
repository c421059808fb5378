"""What one process shares among its front ends: one engine, one database (questions, votes, chats
and conversations: shared with every other process on PostgreSQL), one rate limiter, one asking
flow, one loop that picks up an index rebuilt by ``launchbot index`` in another process, and (with
``feeds.refresh_minutes`` set) one loop that polls the news feeds of ``knowledge/feeds.yaml``.

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
from bot.core.engine import Engine, IndexBusy, Watched
from bot.service.asking import Asking
from bot.service.conversations import StoredConversations
from bot.service.logs import install_redaction, verbose_logging
from bot.service.pgstorage import open_state
from bot.service.redis_limits import rate_limiter
from bot.service.storage import Storage

logger = logging.getLogger(__name__)


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
        self.started = time.time()
        self._reloading: asyncio.Task | None = None
        self._feeds: asyncio.Task | None = None

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
        self.start_feeds()

    def start_feeds(self) -> None:
        """Poll the feeds now and every ``feeds.refresh_minutes`` (0, the default: never), once per process."""
        minutes = self.settings.feeds.refresh_minutes
        if minutes and self.engine is not None and (self._feeds is None or self._feeds.done()):
            self._feeds = asyncio.get_running_loop().create_task(self._watch_forever(minutes * 60), name="feeds")

    async def stop_reloading(self) -> None:
        tasks, self._reloading, self._feeds = (self._reloading, self._feeds), None, None
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def watch_feeds(self) -> Watched | None:
        """Poll the feeds once, off the event loop; new items are answerable when it returns. A
        failure changes nothing and is logged: the next poll tries the same items again."""
        try:
            watched = await asyncio.to_thread(self.engine.watch_feeds)
        except IndexBusy:
            logger.info("feeds: another reindex is running; their new items wait for the next poll")
            return None
        except Exception:
            logger.exception("polling the feeds failed; nothing was changed")
            return None
        for item, outcome in watched.outcomes:
            logger.info("feed %s: %s", item.feed, outcome.line())
        for problem in watched.problems:
            logger.warning("%s", problem)
        logger.info("%s", watched.summary())
        return watched

    async def _watch_forever(self, seconds: float) -> None:
        while True:
            await self.watch_feeds()
            await asyncio.sleep(seconds)

    async def _reload_forever(self) -> None:
        while True:
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
