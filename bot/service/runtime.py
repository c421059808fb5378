"""What one process shares among its front ends: one engine, one database (questions, votes, chats
and conversations: shared with every other process on PostgreSQL), one rate limiter, one asking
flow, one set of metrics, the moderators' notes, one loop that picks up an index rebuilt by
``launchbot index`` in another process and deletes questions older than ``state.retention_days``
(hourly), and (with ``feeds.refresh_minutes`` set) one loop that polls the news feeds of
``knowledge/feeds.yaml``.

``launchbot serve`` builds one ``Services`` and hands it to the Discord client and the Telegram
application alike; ``start_reloading`` is idempotent, so whichever front end starts first starts
the loop and the others share it.

``run_services`` runs the process like a service: the health and metrics port (``bot.service.ops``)
on the same event loop, and a graceful stop. SIGTERM or SIGINT sets ``Services.stopping``: each
front end stops taking updates, finishes the questions in flight (``Services.question`` counts
them) and sends what is queued; after ``ops.drain_seconds`` whatever is left is cancelled. Then
every connection is closed and one line says what happened; the exit code stays 0. A second
signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from bot.config import Settings
from bot.core.engine import Engine, IndexBusy, Watched
from bot.service.asking import Asking
from bot.service.conversations import StoredConversations
from bot.service.logs import install_redaction, verbose_logging
from bot.service.notes import Notes
from bot.service.ops import Metrics, OpsServer
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
        self.metrics = Metrics()
        self.asking = Asking(
            engine,
            storage,
            self.limiter,
            answer_workers=chat.answer_workers,
            log_question_text=chat.log_question_text,
            conversations=StoredConversations(storage, chat.conversation_turns, chat.conversation_minutes * 60),
            metrics=self.metrics,
        )
        self.notes = Notes(settings, engine, storage)
        self.started = time.time()
        # Each front end says here whether it is connected (``/readyz``, ``launchbot_front_end_up``).
        self.front_ends: dict[str, Callable[[], bool]] = {}
        self.stopping = asyncio.Event()  # set by SIGTERM / SIGINT: stop taking updates, drain, close
        self.stop_signal: str | None = None
        self.handling = 0  # questions being answered or sent right now
        self._idle = asyncio.Event()
        self._idle.set()
        self._reloading: asyncio.Task | None = None
        self.ops_server: OpsServer | None = None  # the health and metrics port, once open
        self.metrics.watch(self)
        self._feeds: asyncio.Task | None = None
        self._expired = -float("inf")  # when old questions were last deleted (monotonic)

    @property
    def latencies(self):
        return self.asking.latencies

    # ------------------------------------------------------------------ stopping

    def stop(self, signal_name: str = "stop") -> None:
        """Begin a graceful stop (a signal handler; idempotent): front ends stop taking updates and
        finish what is in flight, within ``ops.drain_seconds``."""
        if not self.stopping.is_set():
            self.stop_signal = signal_name
            self.stopping.set()

    @contextlib.asynccontextmanager
    async def question(self) -> AsyncIterator[None]:
        """Around a front end's handling of one question, from accepted to sent: a stop waits for it."""
        self.handling += 1
        self.metrics.in_flight.inc()
        self._idle.clear()
        try:
            yield
        finally:
            self.handling -= 1
            self.metrics.in_flight.dec()
            if not self.handling:
                self._idle.set()

    async def drained(self) -> None:
        """Until no question is being answered or sent."""
        await self._idle.wait()

    def close(self) -> None:
        """Close the connections the services hold: the state database and Redis (the engine's
        are its owner's to close)."""
        for close in (self.storage.close, getattr(self.limiter, "close", None)):
            if close is not None:
                _quietly(close)

    # ------------------------------------------------------------------ the index

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
    on a new event loop until it returns or a stop (SIGTERM, SIGINT: Ctrl-C) has drained, then
    close every connection and log one line. ``secrets`` are redacted from every log line;
    ``engine``: an opened engine to serve instead (tests)."""
    verbose_logging()
    for secret in secrets:
        install_redaction(secret)
    owned = engine is None
    if engine is None:
        engine = Engine(settings)
        engine.open(notify=lambda message: print(message, file=sys.stderr))
    storage = open_state(settings)  # SQLite, or PostgreSQL with state_backend: postgres
    services = Services(settings, engine, storage)
    outcome = ""
    try:
        outcome = asyncio.run(_supervise(services, main))
    except KeyboardInterrupt:  # a Ctrl-C before the signal handlers were in place, or a second one
        outcome = "stopped at once (interrupted)"
    finally:
        services.close()
        if owned and hasattr(engine, "close"):
            _quietly(engine.close)  # the index store's connections
    if outcome:
        logger.info("%s; connections closed", outcome)


async def _supervise(services: Services, main: Callable[[Services], Awaitable[None]]) -> str:
    """Run ``main`` until it returns, or until a signal: then give it ``ops.drain_seconds`` to stop
    taking updates and finish what is in flight, and cancel it after that. What happened, in words."""
    loop = asyncio.get_running_loop()
    hurry = asyncio.Event()  # a second signal: stop now
    handled = _on_signals(loop, lambda name: hurry.set() if services.stopping.is_set() else services.stop(name))
    server = OpsServer(services)
    if services.settings.ops.port is not None:
        await server.start()
    services.ops_server = server
    running = asyncio.create_task(main(services), name="front ends")
    stopping = asyncio.create_task(services.stopping.wait(), name="stop signal")
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # a front end that failed: its error, for the caller to explain
            return ""
        return await _drain(services, running, hurry)
    finally:
        stopping.cancel()
        for name in handled:
            loop.remove_signal_handler(name)
        await server.stop()


async def _drain(services: Services, running: asyncio.Task, hurry: asyncio.Event) -> str:
    seconds = services.settings.ops.drain_seconds
    in_flight, started = services.handling, time.monotonic()
    hurried = asyncio.create_task(hurry.wait())
    await asyncio.wait({running, hurried}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    left = services.handling
    if not running.done():
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    elif not running.cancelled() and running.exception() is not None:
        logger.warning("a front end failed while stopping: %s", running.exception())
    took = time.monotonic() - started
    if left:
        why = "a second signal" if hurry.is_set() else f"ops.drain_seconds ({seconds:g} s)"
        return f"stopped on {services.stop_signal}: {left} of {in_flight} question(s) in flight not sent, cut by {why}"
    if not in_flight:
        return f"stopped on {services.stop_signal} in {took:.1f} s: nothing was in flight"
    return f"stopped on {services.stop_signal}: the {in_flight} question(s) in flight answered and sent in {took:.1f} s"


def _quietly(close: Callable[[], object]) -> None:
    try:
        close()
    except Exception:
        logger.warning("closing a connection failed", exc_info=True)


def _on_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[str], None]) -> list[int]:
    """SIGTERM and SIGINT call ``handler`` on the loop (no KeyboardInterrupt, no traceback); where
    that is impossible (a thread other than the main one: tests) nothing is installed."""
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, handler, sig.name)
        except (RuntimeError, ValueError, NotImplementedError):
            continue
        installed.append(sig)
    return installed
