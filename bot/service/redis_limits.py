"""Cooldowns and rate limits shared by every bot process, in Redis (``LAUNCHBOT_REDIS_URL``).

Same interface as ``bot.service.limits.RateLimiter``: ``check(community, user)`` returns None when
the question may go ahead (and counts it), else a ``Wait`` (why, and for how many seconds). One Lua
script does the whole check atomically on the server, so the limits are exact however many processes ask at once: the
user's cooldown is a key that expires, the server's window a sorted set of request times trimmed to
the last minute. Time comes from Redis ``TIME``, not the callers' clocks, which may disagree.
Who has been told of a refusal is a key set only if absent (``SET NX PX``), so a member flooding
several processes at once still hears once per window.

Without a Redis URL the bot keeps the per-process ``RateLimiter`` (``rate_limiter`` picks). While
Redis is unreachable, each process falls back to its own in-memory limits and says so once: the bot
keeps answering rather than refusing everyone. The check runs on the chat front end's event loop
(a local Redis answers in about 0.1 ms), so the socket timeout is short and a Redis that failed is
retried only every few seconds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Hashable

import redis

from bot.service.limits import WINDOW_SECONDS, RateLimiter, Wait

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0

# KEYS: the user's cooldown key, the guild's window. ARGV: cooldown s, limit, window s, a unique member.
# Returns "" (go ahead) or "<cooldown|busy> <seconds to wait>" (a string: Lua numbers would be truncated
# to integers on the way out).
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cooldown, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local last = redis.call('GET', KEYS[1])
if last and now - tonumber(last) < cooldown then
  return 'cooldown ' .. tostring(cooldown - (now - tonumber(last)))
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if redis.call('ZCARD', KEYS[2]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return 'busy ' .. tostring(window - (now - tonumber(oldest[2])))
  end
  redis.call('ZADD', KEYS[2], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], math.ceil(window * 1000))
end
if cooldown > 0 then
  redis.call('SET', KEYS[1], string.format('%.6f', now), 'PX', math.ceil(cooldown * 1000))
end
return ''
"""


class RedisRateLimiter:
    """Per-user cooldown and per-server questions per minute, exact across processes."""

    def __init__(
        self,
        url: str,
        user_cooldown: float,
        guild_per_minute: int,
        *,
        namespace: str = "launchbot",
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.user_cooldown = user_cooldown
        self.guild_per_minute = guild_per_minute
        self.window = window
        self.namespace = namespace
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(ACQUIRE)
        self._fallback = RateLimiter(user_cooldown, guild_per_minute)
        self._degraded = False
        self._retry_at = 0.0

    def check(self, community: Hashable, user: Hashable) -> Wait | None:
        """None if the question may go ahead (and count it); otherwise why and how long to wait."""
        keys = [f"{self.namespace}:cooldown:{_key(user)}", f"{self.namespace}:community:{_key(community)}"]
        args = [self.user_cooldown, self.guild_per_minute, self.window, uuid.uuid4().hex]
        if self._degraded and time.monotonic() < self._retry_at:
            return self._fallback.check(community, user)
        try:
            reply = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            if not self._degraded:
                logger.warning("Redis unreachable (%s): rate limits are per process until it is back", exc)
                self._degraded = True
            self._retry_at = time.monotonic() + RETRY_SECONDS
            return self._fallback.check(community, user)
        if self._degraded:
            logger.info("Redis reachable again: rate limits are shared again")
            self._degraded = False
        if not reply:
            return None
        reason, seconds = reply.decode().split()
        return Wait(reason, max(float(seconds), 0.0))

    def first_notice(self, key: Hashable, seconds: float) -> bool:
        """True if no process gave a notice about ``key`` in the last ``seconds`` (and remember this one)."""
        if self._degraded and time.monotonic() < self._retry_at:
            return self._fallback.first_notice(key, seconds)
        try:
            told = self._redis.set(f"{self.namespace}:notice:{_key(key)}", 1, px=max(1, round(seconds * 1000)), nx=True)
        except redis.RedisError:
            return self._fallback.first_notice(key, seconds)  # check() says when Redis is back
        return bool(told)

    @property
    def shared(self) -> bool:
        """True while the limits are counted in Redis (False: fallen back to this process's own)."""
        return not self._degraded

    def ping(self) -> None:
        """Raises unless Redis answers (``/readyz``)."""
        self._redis.ping()

    def acquire(self, community: Hashable, user: Hashable) -> float:
        """0 if the question may go ahead (and count it); otherwise the seconds until it may."""
        wait = self.check(community, user)
        return 0.0 if wait is None else wait.seconds

    def close(self) -> None:
        self._redis.close()


def _key(value: Hashable) -> str:
    """A Redis key part: ("discord", "123") -> "discord:123"."""
    return ":".join(map(str, value)) if isinstance(value, tuple) else str(value)


def rate_limiter(
    user_cooldown: float, guild_per_minute: int, redis_url: str | None = None
) -> RateLimiter | RedisRateLimiter:
    """Shared limits when a Redis URL is configured, per-process ones otherwise."""
    if redis_url:
        return RedisRateLimiter(redis_url, user_cooldown, guild_per_minute)
    return RateLimiter(user_cooldown, guild_per_minute)
