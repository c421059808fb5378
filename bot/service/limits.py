"""Per-user cooldown and per-server rate limit, shared by ``/ask`` and mentions.

In memory on purpose: it is checked before every question on the event loop, so it must cost
microseconds, and forgetting it on restart is harmless. The clock is injectable so tests can move
time instead of sleeping.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


class RateLimiter:
    def __init__(
        self, user_cooldown: float, guild_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.user_cooldown = user_cooldown
        self.guild_per_minute = guild_per_minute
        self.clock = clock
        self._last_by_user: dict[int, float] = {}
        self._recent_by_guild: dict[int | None, deque[float]] = {}

    def acquire(self, guild_id: int | None, user_id: int) -> float:
        """0 if the question may go ahead (and count it); otherwise the seconds until it may."""
        now = self.clock()
        last = self._last_by_user.get(user_id)
        if last is not None and now - last < self.user_cooldown:
            return self.user_cooldown - (now - last)
        recent = self._recent_by_guild.setdefault(guild_id, deque())
        while recent and now - recent[0] >= WINDOW_SECONDS:
            recent.popleft()
        if self.guild_per_minute > 0 and len(recent) >= self.guild_per_minute:
            return WINDOW_SECONDS - (now - recent[0])
        recent.append(now)
        self._last_by_user[user_id] = now
        self._forget_old(now)
        return 0.0

    def _forget_old(self, now: float) -> None:
        """Keep memory bounded on busy servers: cooled-down users need no entry."""
        if len(self._last_by_user) > 10_000:
            self._last_by_user = {user: at for user, at in self._last_by_user.items() if now - at < self.user_cooldown}


def retry_message(wait: float) -> str:
    seconds = max(1, math.ceil(wait))
    return f"Easy there — too many questions at once. Please try again in {seconds} s."
