"""Per-user cooldown and per-community (server or group) rate limit, shared by every way to ask, and
who has been told so.

In memory on purpose: it is checked before every question on the event loop, so it must cost
microseconds, and forgetting it on restart is harmless. The clock is injectable so tests can move
time instead of sleeping.

A refusal is told once per window (``first_notice``): a member who floods the bot during a 10 s
cooldown hears about it once, not a hundred times, and a busy group hears once until a place frees.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
COOLDOWN, BUSY = "cooldown", "busy"


@dataclass(frozen=True)
class Wait:
    """Why a question must wait (``COOLDOWN``: this member asked a moment ago; ``BUSY``: the
    community asked its quota this minute) and for how many seconds."""

    reason: str
    seconds: float

    def message(self) -> str:
        seconds = max(1, math.ceil(self.seconds))
        if self.reason == COOLDOWN:
            return f"You're on a short cooldown: you asked a moment ago. Please try again in {seconds} s."
        return f"Lots of questions here right now. Please try again in {seconds} s."


class RateLimiter:
    shared = False  # counted in this process only (``RedisRateLimiter`` shares them)

    def __init__(
        self, user_cooldown: float, guild_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.user_cooldown = user_cooldown
        self.guild_per_minute = guild_per_minute
        self.clock = clock
        self._last_by_user: dict[Hashable, float] = {}
        self._recent_by_guild: dict[Hashable, deque[float]] = {}
        self._told_until: dict[Hashable, float] = {}

    def check(self, community: Hashable, user: Hashable) -> Wait | None:
        """None if the question may go ahead (and count it); otherwise why and how long to wait."""
        now = self.clock()
        last = self._last_by_user.get(user)
        if last is not None and now - last < self.user_cooldown:
            return Wait(COOLDOWN, self.user_cooldown - (now - last))
        recent = self._recent_by_guild.setdefault(community, deque())
        while recent and now - recent[0] >= WINDOW_SECONDS:
            recent.popleft()
        if self.guild_per_minute > 0 and len(recent) >= self.guild_per_minute:
            return Wait(BUSY, WINDOW_SECONDS - (now - recent[0]))
        recent.append(now)
        self._last_by_user[user] = now
        self._forget_old(now)
        return None

    def acquire(self, community: Hashable, user: Hashable) -> float:
        """0 if the question may go ahead (and count it); otherwise the seconds until it may."""
        wait = self.check(community, user)
        return 0.0 if wait is None else wait.seconds

    def first_notice(self, key: Hashable, seconds: float) -> bool:
        """True if no notice about ``key`` was given in the last ``seconds`` (and remember this one):
        whoever is refused is told once per window, then dropped quietly."""
        now = self.clock()
        if self._told_until.get(key, -math.inf) > now:
            return False
        self._told_until[key] = now + seconds
        if len(self._told_until) > 10_000:
            self._told_until = {k: until for k, until in self._told_until.items() if until > now}
        return True

    def _forget_old(self, now: float) -> None:
        """Keep memory bounded on busy servers: cooled-down users need no entry."""
        if len(self._last_by_user) > 10_000:
            self._last_by_user = {user: at for user, at in self._last_by_user.items() if now - at < self.user_cooldown}
