"""Running as a service: what an operator watches. One small HTTP port (``ops.port``; off unless set,
bound to ``ops.host``, 127.0.0.1 by default) served by aiohttp from the event loop the front ends
already run on, no thread of its own:

- ``/healthz``: 200 while the process and its event loop live (a stuck loop cannot answer it);
- ``/readyz``: 200 when the index is loaded, the databases and Redis (where configured) answer and
  every front end is connected; 503 with what is not, and 503 while the process is stopping, so a
  load balancer sends Telegram's webhooks to another process;
- ``/metrics``: Prometheus text (prometheus-client): questions by platform and outcome, answer and
  engine time histograms, refusals by reason, the index's version, size and age, whether the rate
  limits are shared (Redis) or per process, database errors and retries, answers in flight.

``Metrics`` is the process's registry; the asking flow counts into it. What is read at scrape time
(index, limits, database counts, front ends) comes from a collector, so nothing polls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from bot.core.engine import postgres_connections

if TYPE_CHECKING:
    from bot.service.runtime import Services

logger = logging.getLogger(__name__)

CHECK_SECONDS = 3.0  # a readiness check slower than this counts as failed
ANSWER_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ENGINE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The counters the asking flow updates; one registry per ``Services`` (tests run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "launchbot_questions",
            "Questions settled: answered or declined (delivered), or failed (an error while answering)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "launchbot_refusals",
            "Questions refused before answering (problem, not_enabled, cooldown, busy); told: whether the "
            "member was told or the message dropped quietly (told once per window)",
            ["platform", "reason", "told"],
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "launchbot_answer_seconds",
            "From a question accepted to its answer accepted by the platform (what the member waits)",
            ["platform"],
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )
        self.engine_seconds = Histogram(
            "launchbot_engine_seconds",
            "Time the engine took to answer (retrieval, ranking, composing), in a worker thread",
            buckets=ENGINE_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "launchbot_questions_in_flight", "Questions being answered or sent now", registry=self.registry
        )

    def watch(self, services: Services) -> None:
        self.registry.register(_StateCollector(services))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """What is read when scraped: the index, the limits, the database counts, the front ends."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator:
        services = self.services
        index = services.engine.serving if services.engine is not None else None
        if index is not None:
            info = InfoMetricFamily("launchbot_index", "The index being served")
            info.add_metric([], {"version": index.path.name, "backend": services.settings.index_backend})
            yield info
            yield GaugeMetricFamily("launchbot_index_chunks", "Chunks in the index served", value=len(index.chunks))
            built = _built_at(index.path.name)
            if built is not None:
                yield GaugeMetricFamily(
                    "launchbot_index_age_seconds", "Seconds since the index served was built", value=time.time() - built
                )
        shared = getattr(services.limiter, "shared", False)
        yield GaugeMetricFamily(
            "launchbot_limits_shared",
            "1: rate limits counted in Redis, shared by every process; 0: counted in this process only",
            value=1 if shared else 0,
        )
        counted = postgres_connections()
        for name, counts, text in (
            ("launchbot_database_errors", counted.ERRORS, "PostgreSQL errors, by store (index, state)"),
            ("launchbot_database_retries", counted.RETRIES, "Operations retried after a lost connection"),
        ):
            family = CounterMetricFamily(name, text, labels=["store"])
            for store in ("index", "state"):
                family.add_metric([store], counts[store])
            yield family
        front_ends = GaugeMetricFamily("launchbot_front_end_up", "1 while a front end is connected", labels=["name"])
        for name, connected in services.front_ends.items():
            front_ends.add_metric([name], 1 if _safely(connected) else 0)
        yield front_ends
        stopping = services.stopping.is_set()
        yield GaugeMetricFamily("launchbot_stopping", "1 once a stop began (draining)", value=stopping)


def _built_at(version: str) -> float | None:
    """When a version was built, from its name (``v<time_ns>-<id>``, both stores)."""
    stamp = version.removeprefix("v").partition("-")[0]
    return int(stamp) / 1e9 if stamp.isdigit() else None


def _safely(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False


# --------------------------------------------------------------------------- readiness


async def readiness(services: Services) -> dict[str, str]:
    """Each check's name and "ok" or what is wrong, run at once, each within ``CHECK_SECONDS``."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {"index": lambda: _index_loaded(services)}
    if services.settings.index_backend == "postgres":
        checks["index database"] = lambda: asyncio.to_thread(services.engine.ping)
    checks["state database"] = lambda: asyncio.to_thread(services.storage.ping)
    if getattr(services.limiter, "ping", None) is not None:
        checks["redis"] = lambda: asyncio.to_thread(services.limiter.ping)
    for name, connected in services.front_ends.items():
        checks[name] = lambda connected=connected, name=name: _connected(name, connected)
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    found = dict(zip(checks, results, strict=True))
    if services.stopping.is_set():
        found["process"] = "stopping"
    return found


async def _run(check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return "ok"


async def _index_loaded(services: Services) -> None:
    if services.engine is None or services.engine.serving is None:
        raise RuntimeError("no index loaded")


async def _connected(name: str, connected: Callable[[], bool]) -> None:
    if not _safely(connected):
        raise RuntimeError(f"{name} is not connected")


# --------------------------------------------------------------------------- the HTTP port


class OpsServer:
    """The port, on the running loop; ``port`` is the one bound (``ops.port: 0`` picks a free one)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        ops = self.services.settings.ops
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, ops.host, ops.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise ValueError(f"ops.port: cannot listen on {ops.host}:{ops.port} ({exc.strerror or exc})") from None
        self.port = self._runner.addresses[0][1]
        logger.info("health and metrics on http://%s:%d (/healthz, /readyz, /metrics)", ops.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        found = await readiness(self.services)
        ready = all(state == "ok" for state in found.values())
        body = json.dumps({"ready": ready, "checks": found}, ensure_ascii=False, indent=1) + "\n"
        return web.Response(text=body, status=200 if ready else 503, content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        body = self.services.metrics.text()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
