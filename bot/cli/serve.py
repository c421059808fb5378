"""``launchbot serve``: every front end whose token is set, in one process, on one event loop,
sharing one engine, one database, one rate limiter and one index reload loop.

If one front end stops (its token is rejected, say), the others are stopped too and the problem is
named in one line: a half-running bot is easy to miss.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from bot.config import Settings
from bot.core.engine import Engine
from bot.service.runtime import Services, run_services

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_PROBLEM = 0, 2
NO_TOKENS = (
    "launchbot serve: no bot token. Set DISCORD_TOKEN and/or TELEGRAM_TOKEN in the environment or in a "
    ".env file (copy .env.example to .env and fill it in); see the README."
)


def run(settings: Settings, *, sync_global: bool = False, engine: Engine | None = None) -> int:
    from bot.discord import app as discord_app
    from bot.telegram import app as telegram_app

    tokens = {"discord": discord_app.token(settings), "telegram": telegram_app.token(settings)}
    if not any(tokens.values()):
        print(NO_TOKENS, file=sys.stderr)
        return EXIT_PROBLEM
    if tokens["telegram"] and (problem := telegram_app.problem(settings)) is not None:
        print(problem, file=sys.stderr)
        return EXIT_PROBLEM
    secrets = [secret for secret in tokens.values() if secret]

    async def serve_all(services: Services) -> None:
        front_ends = {}
        if tokens["discord"]:
            front_ends["discord"] = discord_app.serve(services, tokens["discord"], sync_global=sync_global)
        if tokens["telegram"]:
            front_ends["telegram"] = telegram_app.serve(services, tokens["telegram"])
        logger.info("serving %s from one process", " and ".join(front_ends))
        await _first_to_stop(front_ends, services.stopping)

    try:
        run_services(settings, serve_all, secrets=secrets, engine=engine)
    except FrontEndFailed as failed:
        module = discord_app if failed.name == "discord" else telegram_app
        print(module.startup_problem(failed.error), file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


class FrontEndFailed(Exception):
    def __init__(self, name: str, error: BaseException) -> None:
        super().__init__(f"{name}: {error}")
        self.name, self.error = name, error


async def _first_to_stop(front_ends: dict[str, Coroutine[Any, Any, None]], stopping: asyncio.Event) -> None:
    """Run every front end until the first one stops; then stop the rest. During a graceful stop
    (``stopping``) each one drains on its own: none is cut short because another finished first."""
    tasks = {asyncio.create_task(running, name=name): name for name, running in front_ends.items()}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if stopping.is_set() and pending:
        more, pending = await asyncio.wait(pending)  # the supervisor bounds this (ops.drain_seconds)
        done |= more
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise FrontEndFailed(tasks[task], task.exception())
