"""Shards across processes: two shard sets route every server to exactly one process (by discord.py's
own routing), IDENTIFYs are spaced per bucket across processes through a real Redis, /status lists
the shards, and the CLI flags reach the settings."""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import SimpleNamespace

import pytest

from bot.cli.main import main
from bot.config import Settings
from bot.discord.app import LaunchBot
from bot.discord.exts.maintenance import shards_text
from bot.discord.sharding import IdentifyGate, shard_for
from bot.service.runtime import Services


def _process(shard_ids: list[int], shard_count: int = 4, **settings) -> LaunchBot:
    """A never-connected LaunchBot as one process of a sharded bot, its shards marked connected."""
    bot = LaunchBot(
        Services(Settings(discord={"shard_count": shard_count, "shard_ids": shard_ids}, **settings), None, None)
    )
    shards = bot._AutoShardedClient__shards  # what launch_shards fills once connected
    for shard_id in shard_ids:
        shards[shard_id] = SimpleNamespace(id=shard_id, ws=SimpleNamespace(latency=0.040 + shard_id / 1000))
    return bot


def test_two_shard_sets_route_every_server_to_exactly_one_process() -> None:
    first, second = _process([0, 1]), _process([2, 3])
    rng = random.Random(2018)
    guilds = [rng.randrange(1 << 40, 1 << 63) for _ in range(5_000)]
    seen_shards = set()
    for guild_id in guilds:
        owners = []
        for process in (first, second):
            with contextlib.suppress(KeyError):  # not one of this process's shards
                owners.append((process, process._get_websocket(guild_id)))  # discord.py's routing
        assert len(owners) == 1, guild_id
        process, websocket = owners[0]
        assert shard_for(guild_id, 4) in process.shard_ids
        assert websocket is process._AutoShardedClient__shards[shard_for(guild_id, 4)].ws
        seen_shards.add(shard_for(guild_id, 4))
    assert seen_shards == {0, 1, 2, 3}
    assert first.runs_shard_zero and not second.runs_shard_zero  # only shard 0's process syncs commands


def test_status_lists_this_process_shards_and_their_latency() -> None:
    assert shards_text(_process([2, 3])) == "2: 42 ms · 3: 43 ms (of 4)"
    assert shards_text(LaunchBot(Services(Settings(), None, None))) == "not connected"


async def test_identify_is_spaced_per_bucket_across_processes(redis_url: str) -> None:
    one, other = IdentifyGate(redis_url, interval=0.5), IdentifyGate(redis_url, interval=0.5)
    try:
        assert await one.try_acquire(0 % 1)
        assert not await other.try_acquire(2 % 1)  # same bucket with max_concurrency 1: wait
        assert await other.try_acquire(3 % 2)  # another bucket with max_concurrency 2: go
        waiting = asyncio.create_task(other.wait(2, 1))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # still held by the first process
        await asyncio.wait_for(waiting, timeout=5)  # the first one's 5-second slot (0.5 s here) ran out
        assert not await one.try_acquire(0)  # and now the second holds the bucket
    finally:
        await one.close()
        await other.close()


async def test_the_bot_identifies_through_the_gate(redis_url: str) -> None:
    first, second = _process([0, 1], redis_url=redis_url), _process([2, 3], redis_url=redis_url)
    for process in (first, second):
        process.max_concurrency = 1
        process.identify_gate.interval = 0.3
    await first.before_identify_hook(0, initial=True)
    blocked = asyncio.create_task(second.before_identify_hook(2, initial=True))
    await asyncio.sleep(0.1)
    assert not blocked.done()
    await asyncio.wait_for(blocked, timeout=5)
    for process in (first, second):
        await process.identify_gate.close()


def test_shard_flags_reach_the_settings_and_bad_ones_are_named(capsys, monkeypatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setattr("bot.discord.app.token", lambda settings: "")
    assert main(["discord", "--shards", "0,5", "--shard-count", "4"]) == 2
    assert "shard_ids [0, 5] must be distinct numbers from 0 to 3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["discord", "--shards", "0,x"])
    assert main(["discord", "--shards", "2,3", "--shard-count", "4"]) == 2  # valid: stops only for the token
    assert "no Discord bot token" in capsys.readouterr().err
