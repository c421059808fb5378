"""Discord shards across processes: which shard a server's events arrive on, and IDENTIFYs spaced
out across every process of the bot through Redis.

Past 2,500 servers Discord requires sharding: each gateway connection (shard) carries the servers
with ``(guild_id >> 22) % shard_count == shard_id``, and direct messages come on shard 0 only. Each
process runs the shards in ``discord.shard_ids`` (of ``discord.shard_count`` in all). Discord lets
``max_concurrency`` shards IDENTIFY per 5 seconds, one per bucket ``shard_id % max_concurrency``;
discord.py spaces the shards of ONE process, so with several processes each bucket is a Redis key
set for 5 s with NX: whoever sets it may identify, the others wait for it to expire.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import redis.asyncio

logger = logging.getLogger(__name__)

IDENTIFY_INTERVAL = 5.0  # Discord: one IDENTIFY per bucket per 5 seconds
POLL_SECONDS = 0.25


def shard_for(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events on (its documented sharding formula)."""
    return (guild_id >> 22) % shard_count


class IdentifyGate:
    """One IDENTIFY per bucket per interval, across every process sharing the Redis server."""

    def __init__(self, url: str, *, interval: float = IDENTIFY_INTERVAL, namespace: str = "launchbot") -> None:
        self._redis = redis.asyncio.Redis.from_url(url)
        self.interval = interval
        self.namespace = namespace
        self._me = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def try_acquire(self, bucket: int) -> bool:
        """Take the bucket for ``interval`` seconds if nobody holds it; never released early."""
        key = f"{self.namespace}:identify:{bucket}"
        return bool(await self._redis.set(key, self._me, nx=True, px=int(self.interval * 1000)))

    async def wait(self, shard_id: int, max_concurrency: int) -> None:
        """Return when this shard may IDENTIFY."""
        bucket = shard_id % max(1, max_concurrency)
        while not await self.try_acquire(bucket):
            await asyncio.sleep(POLL_SECONDS)
        logger.info("shard %d may identify (bucket %d)", shard_id, bucket)

    async def close(self) -> None:
        await self._redis.aclose()
