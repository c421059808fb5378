"""The Telegram front end: a python-telegram-bot ``Application`` over the shared services, run by
``launchbot telegram`` (or beside Discord by ``launchbot serve``).

Every Bot API call goes through the ``rate-limiter`` extra's ``AIORateLimiter``, which keeps within
Telegram's 30 messages a second overall and honours ``RetryAfter`` (waits as long as Telegram asks,
then retries). Its per-group limit is off: the handlers' send queue (``bot.service.outbox``) keeps
Telegram's 20 messages a minute into a group itself, sending answers before notices, which a
first-come-first-served limiter cannot.
Every message is HTML with link previews off. Updates arrive by long polling, or by webhook when
``telegram.webhook_url`` is set (its secret token, ``TELEGRAM_WEBHOOK_SECRET``, is required and
checked on every update). ``telegram.base_url`` points at a self-hosted Bot API server if you run
one. The token comes only from ``TELEGRAM_TOKEN`` and is redacted from every log line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeAllChatAdministrators, BotCommandScopeDefault, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot.config import Settings
from bot.core.engine import Engine
from bot.service.runtime import Services, run_services
from bot.telegram.handlers import TelegramBot

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_PROBLEM = 0, 2
NO_TOKEN = (
    "launchbot telegram: no Telegram bot token. Set TELEGRAM_TOKEN in the environment or in a .env "
    "file (copy .env.example to .env and fill it in with the token BotFather gave you); see the "
    "README's Telegram section."
)
NO_WEBHOOK_SECRET = (
    "launchbot telegram: telegram.webhook_url is set but TELEGRAM_WEBHOOK_SECRET is not. Set it (1-256 "
    "characters of A-Z a-z 0-9 _ -) in the environment or .env: updates without it are refused."
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
RETRIES = 3  # after a RetryAfter, wait as asked and try again this many times

MEMBER_COMMANDS = [
    BotCommand("ask", "Ask about the Progress MS-10 launch"),
    BotCommand("sources", "The articles I answer from"),
    BotCommand("forget", "Delete every question you asked me and your votes"),
    BotCommand("help", "How to ask, and every command"),
]
ADMIN_COMMANDS = [
    *MEMBER_COMMANDS,
    BotCommand("enable", "Let me answer in this group"),
    BotCommand("disable", "Stop me answering in this group"),
    BotCommand("stats", "Questions asked, answered, declined, votes, with a chart"),
    BotCommand("unanswered", "What the articles did not answer (CSV)"),
    BotCommand("gaps", "What members ask that the articles miss, as topics"),
    BotCommand("note", "add question | answer, list, remove id: moderator notes"),
]


def token(settings: Settings) -> str:
    """The configured bot token, or "" when there is none."""
    return settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""


def webhook_secret(settings: Settings) -> str:
    secret = settings.telegram_webhook_secret
    return secret.get_secret_value().strip() if secret else ""


def build_application(
    services: Services,
    secret: str,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> Application:
    """The application with every handler registered; ``request``: how Bot API calls are made
    (tests pass one that answers them without a network)."""
    builder = (
        ApplicationBuilder()
        .token(secret)
        .base_url(services.settings.telegram.base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(AIORateLimiter(group_max_rate=0, max_retries=RETRIES))  # groups: the send queue
        .concurrent_updates(True)  # one member's question does not wait for another's
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(updates_request or request)
    application = builder.build()
    handlers = TelegramBot(services)
    handlers.register(application)
    application.bot_data["handlers"] = handlers
    return application


async def prepare(application: Application) -> None:
    """After ``initialize``: load the groups' allow-list and show the commands in Telegram's menu."""
    await application.bot_data["handlers"].load()
    await application.bot.set_my_commands(MEMBER_COMMANDS, scope=BotCommandScopeDefault())
    await application.bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeAllChatAdministrators())


async def serve(
    services: Services, secret: str, *, stop: asyncio.Event | None = None, request: BaseRequest | None = None
) -> None:
    """Run the bot on the running event loop until ``stop`` or ``services.stopping`` is set (or the
    task is cancelled). A stop takes no more updates (the poller stops, or the webhook server, so
    the load balancer sends them elsewhere), finishes the updates already taken and sends what is
    queued, then shuts down. ``request``: how Bot API calls are made (benchmarks, tests)."""
    settings = services.settings.telegram
    application = build_application(services, secret, request=request)
    async with application:  # initialize (getMe: checks the token) ... shutdown
        await prepare(application)
        await application.start()
        if settings.webhook_url:
            await application.updater.start_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path.strip("/"),  # the proxy keeps the public path
                webhook_url=settings.webhook_url,
                secret_token=webhook_secret(services.settings),
            )
            logger.info("telegram: receiving updates by webhook at %s", settings.webhook_url)
        else:
            await application.updater.start_polling()
            logger.info("telegram: receiving updates by long polling")
        services.start_reloading()
        services.front_ends["telegram"] = lambda: application.running and application.updater.running
        logger.info("telegram: connected as @%s", application.bot.username)
        try:
            await _first_set(stop or asyncio.Event(), services.stopping)
        finally:
            await application.updater.stop()  # no more updates; those taken are acknowledged
            await application.stop()  # waits for the updates being handled: answers sent, queues empty
            await services.stop_reloading()


async def _first_set(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def problem(settings: Settings) -> str | None:
    """What stops the Telegram bot from starting, in one line, or None."""
    if not token(settings):
        return NO_TOKEN
    if settings.telegram.webhook_url and not _SECRET_TOKEN.fullmatch(webhook_secret(settings)):
        return NO_WEBHOOK_SECRET
    return None


def startup_problem(error: BaseException) -> str:
    del error  # the message may quote the token
    return (
        "launchbot telegram: Telegram rejected the token in TELEGRAM_TOKEN; get a new one from BotFather "
        "(/token) and update .env."
    )


def run(settings: Settings, *, engine: Engine | None = None) -> int:
    """Start the bot and block until it stops; the exit code for the CLI."""
    refusal = problem(settings)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return EXIT_PROBLEM
    secret = token(settings)
    try:
        run_services(settings, lambda services: serve(services, secret), secrets=[secret], engine=engine)
    except InvalidToken as error:
        print(startup_problem(error), file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK
