"""Shared limits on a real Redis: exact across processes, same answers as the in-process limiter."""

from __future__ import annotations

import multiprocessing

import pytest

from bot.service.limits import BUSY, COOLDOWN, RateLimiter
from bot.service.redis_limits import RedisRateLimiter, rate_limiter


def _hammer(url: str, worker: int, calls: int, start, results) -> None:
    limiter = RedisRateLimiter(url, user_cooldown=0, guild_per_minute=50, namespace="cross")
    start.wait()
    allowed = sum(limiter.check(7, worker * calls + n) is None for n in range(calls))
    results.put(allowed)


def test_rate_limit_is_exact_across_processes(redis_url: str) -> None:
    """Four processes race 400 questions for one server allowing 50 a minute: exactly 50 pass."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_hammer, args=(redis_url, w, 100, start, results)) for w in range(4)]
    for worker in workers:
        worker.start()
    try:
        allowed = [results.get(timeout=60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    assert sum(allowed) == 50
    assert RedisRateLimiter(redis_url, 0, 50, namespace="cross").acquire(7, 10_000) > 0  # still full
    assert RedisRateLimiter(redis_url, 0, 50, namespace="cross").acquire(8, 10_000) == 0  # another server


def test_cooldown_is_shared_between_processes(redis_url: str) -> None:
    first = RedisRateLimiter(redis_url, user_cooldown=10, guild_per_minute=20)
    second = RedisRateLimiter(redis_url, user_cooldown=10, guild_per_minute=20)
    assert first.acquire(1, 42) == 0
    wait = second.check(2, 42)  # the same member, asking through another process and server
    assert wait is not None and wait.reason == COOLDOWN and 9 < wait.seconds <= 10
    assert second.acquire(2, 43) == 0  # someone else is not held back


def test_same_decisions_as_the_in_process_limiter(redis_url: str) -> None:
    """A burst through both: the same questions pass, the same wait kinds come back."""
    shared = RedisRateLimiter(redis_url, user_cooldown=5, guild_per_minute=3)
    local = RateLimiter(user_cooldown=5, guild_per_minute=3)
    asks = [(1, 1), (1, 1), (1, 2), (1, 3), (1, 4), (2, 5), (None, 6)]
    assert [shared.acquire(*ask) == 0 for ask in asks] == [local.acquire(*ask) == 0 for ask in asks]
    wait = shared.check(1, 9)
    assert wait is not None and wait.reason == BUSY and wait.seconds == pytest.approx(60, abs=1)
    assert shared.check(("telegram", "-100"), ("telegram", "5")) is None  # the asking flow's tuple keys


def test_unreachable_redis_falls_back_to_per_process_limits() -> None:
    from tests.servers import free_port

    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", user_cooldown=10, guild_per_minute=20)
    assert limiter.acquire(1, 1) == 0
    assert limiter.acquire(1, 1) > 0  # the cooldown still holds, in this process


def test_rate_limiter_picks_the_backend(redis_url: str) -> None:
    assert isinstance(rate_limiter(10, 20, None), RateLimiter)
    assert isinstance(rate_limiter(10, 20, redis_url), RedisRateLimiter)


def test_a_refusal_is_told_once_per_window_across_processes(redis_url: str) -> None:
    first = RedisRateLimiter(redis_url, 10, 5, namespace="told")
    second = RedisRateLimiter(redis_url, 10, 5, namespace="told")
    key = ("cooldown", "telegram", "42")
    assert first.first_notice(key, 10)
    assert not second.first_notice(key, 10)  # the other process knows the member was told
    assert second.first_notice(("cooldown", "telegram", "43"), 10)


def test_the_in_process_limiter_tells_once_per_window():
    now = [0.0]
    limiter = RateLimiter(10, 5, clock=lambda: now[0])
    assert limiter.first_notice("k", 10) and not limiter.first_notice("k", 10)
    now[0] += 10
    assert limiter.first_notice("k", 10)
