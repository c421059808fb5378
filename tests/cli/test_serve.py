"""``launchbot serve``: Discord and Telegram in one process, sharing one engine, one database, one
limiter and one reload loop; one front end failing stops the other and is named in one line."""

from __future__ import annotations

import asyncio
import concurrent.futures

import discord
from pydantic import SecretStr

import bot.cli.serve
import bot.telegram.app
from bot.discord.app import LaunchBot
from tests.telegram.botapi import TOKEN, BotAPI

DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.not-a-real-token"


def in_thread(function, *args, **kwargs):
    """``run`` starts its own event loop, so it cannot run inside a test's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result(timeout=60)


def serving(launch_engine, tmp_path, monkeypatch, discord_start):
    settings = launch_engine.settings.model_copy(
        update={
            "discord_token": SecretStr(DISCORD_TOKEN),
            "telegram_token": SecretStr(TOKEN),
            "chat": launch_engine.settings.chat.model_copy(update={"database": tmp_path / "bot.sqlite3"}),
        }
    )
    seen, api = {}, BotAPI()
    real_build = bot.telegram.app.build_application

    def build(services, secret, **kwargs):
        seen["telegram"] = services
        return real_build(services, secret, request=api)

    async def start(self: LaunchBot, token: str, **kwargs) -> None:
        seen["discord"] = self.services
        await discord_start()
        services = self.services
        loop = services._reloading
        services.start_reloading()  # what the Discord client's setup_hook does: the loop is shared
        seen["one reload loop"] = loop is not None and services._reloading is loop

    monkeypatch.setattr(bot.telegram.app, "build_application", build)
    monkeypatch.setattr(LaunchBot, "start", start)
    code = in_thread(bot.cli.serve.run, settings, engine=launch_engine)
    return code, seen, api


def test_serve_runs_both_front_ends_on_one_set_of_services(launch_engine, tmp_path, monkeypatch):
    async def run_a_while() -> None:
        await asyncio.sleep(1.0)  # long enough for Telegram to start polling, then stop

    code, seen, api = serving(launch_engine, tmp_path, monkeypatch, run_a_while)
    assert code == 0
    assert seen["discord"] is seen["telegram"] and seen["discord"].engine is launch_engine
    assert seen["one reload loop"]
    methods = [call.method for call in api.calls]
    assert methods[0] == "getMe" and "setMyCommands" in methods and "getUpdates" in methods


def test_a_front_end_that_fails_to_start_stops_serve_with_one_line(launch_engine, tmp_path, monkeypatch, capsys):
    async def rejected() -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    code, _, _ = serving(launch_engine, tmp_path, monkeypatch, rejected)
    assert code == 2
    error = capsys.readouterr().err
    assert "DISCORD_TOKEN" in error and DISCORD_TOKEN not in error
