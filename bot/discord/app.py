"""The Discord front end: a thin ``commands.Bot`` over the answer engine, run by ``launchbot discord``.

The bot owns the shared services (engine, storage, rate limiter, channel settings); the cogs in
``bot/discord/exts/`` hold the commands. Engine and database calls go through ``asyncio.to_thread`` so the
event loop keeps the gateway heartbeat and every other member's interaction alive while a question
is being answered or the index rebuilt. Nothing the bot sends can ping anyone
(``AllowedMentions.none()`` on the client and on every send), and the token is redacted from every
log line and never printed.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import sys
import time
import traceback
from collections import deque

import discord
from discord import app_commands
from discord.ext import commands

import bot.discord.exts
from bot.config import Settings
from bot.core.engine import Engine
from bot.discord.checks import NotAllowed
from bot.discord.render import plain
from bot.service.redis_limits import rate_limiter
from bot.service.storage import ChannelConfig, Storage

logger = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = "Sorry — something went wrong on my side. It has been logged; please try again in a moment."
NO_TOKEN = (
    "launchbot discord: no Discord bot token. Set DISCORD_TOKEN in the environment or in a .env "
    "file (copy .env.example to .env and fill it in); see the README's Discord section."
)
EXIT_OK, EXIT_PROBLEM = 0, 2


class RedactingFilter(logging.Filter):
    """Replaces the secret in every record a handler emits: message, arguments and traceback."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secret:
            return True
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "[redacted]"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = record.exc_text.replace(self.secret, "[redacted]")
        if record.stack_info and self.secret in record.stack_info:
            record.stack_info = record.stack_info.replace(self.secret, "[redacted]")
        return True


def install_redaction(secret: str, *handlers: logging.Handler) -> None:
    """Redact ``secret`` on the given handlers (default: the root logger's, creating one if none).

    On handlers, not loggers: a logger's filters do not see records propagated from its children.
    """
    root = logging.getLogger()
    if not handlers:
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
        handlers = tuple(root.handlers)
    for handler in handlers:
        handler.addFilter(RedactingFilter(secret))


async def send_private(interaction: discord.Interaction, message: str, **kwargs) -> None:
    """An ephemeral reply whether or not the interaction was already deferred or answered."""
    kwargs.setdefault("allowed_mentions", NO_MENTIONS)
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(message, ephemeral=True, **kwargs)


async def apologise(interaction: discord.Interaction, error: BaseException, what: str) -> None:
    """Log the traceback, tell the member briefly; never raise (the bot must outlive any error)."""
    logger.error("%s failed", what, exc_info=error)
    try:
        await send_private(interaction, APOLOGY)
    except discord.HTTPException:
        logger.warning("could not send the apology for %s", what, exc_info=True)


class LaunchTree(app_commands.CommandTree):
    """Every slash command error ends here: a refusal for failed checks, else an apology."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        name = interaction.command.qualified_name if interaction.command else "command"
        if isinstance(error, NotAllowed):
            logger.info("refused /%s to a member without permission", name)
            message = str(error)
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            await apologise(interaction, getattr(error, "original", error), f"/{name}")
            return
        try:
            await send_private(interaction, plain(message))
        except discord.HTTPException:
            logger.warning("could not send the refusal for /%s", name, exc_info=True)


class LaunchBot(commands.Bot):
    """The client plus the services the cogs share."""

    def __init__(self, settings: Settings, engine: Engine, storage: Storage, *, sync_global: bool = False) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True  # privileged: needed to read the question in a mention
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            tree_cls=LaunchTree,
        )
        self.settings = settings
        self.engine = engine
        self.storage = storage
        self.sync_global = sync_global
        discord_settings = settings.discord
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.limiter = rate_limiter(
            discord_settings.user_cooldown_seconds, discord_settings.guild_questions_per_minute, redis_url
        )
        self.channel_configs: dict[int, ChannelConfig] = {}
        self.latencies: deque[float] = deque(maxlen=2000)
        # Worker threads beyond the CPU count add no throughput but contend for the GIL with the loop.
        self.answer_slots = asyncio.Semaphore(discord_settings.answer_workers)
        self.started = time.time()

    async def setup_hook(self) -> None:
        self.channel_configs = await asyncio.to_thread(self.storage.channels)
        for extension in extensions():
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self, *, to_global: bool | None = None) -> list[str]:
        """Sync to the development guild (instant) and, only when asked, globally (up to an hour)."""
        done = []
        guild_id = self.settings.discord.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            done.append(f"{len(synced)} commands to the development server {guild_id}")
        if self.sync_global if to_global is None else to_global:
            synced = await self.tree.sync()
            done.append(f"{len(synced)} commands globally (may take up to an hour to appear)")
        if done:
            logger.info("synced %s", "; ".join(done))
        else:
            logger.warning(
                "slash commands not synced: set discord.dev_guild_id, or run `launchbot discord --sync-global` once"
            )
        return done

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: a mention is a question (handled by the ask cog's listener)."""

    async def on_ready(self) -> None:
        logger.info("connected as %s to %d server(s)", self.user, len(self.guilds))


def channel_config(configs: dict[int, ChannelConfig], channel: object) -> ChannelConfig | None:
    """The settings of a channel, or of the channel a thread belongs to."""
    if isinstance(channel, discord.Thread):
        return configs.get(channel.parent_id)
    channel_id = getattr(channel, "id", None)
    return configs.get(channel_id) if channel_id is not None else None


def extensions() -> list[str]:
    """Every cog module in ``bot/discord/exts`` (modules starting with ``_`` are helpers)."""
    return [
        f"{bot.discord.exts.__name__}.{module.name}"
        for module in pkgutil.iter_modules(bot.discord.exts.__path__)
        if not module.name.startswith("_")
    ]


def run(settings: Settings, *, sync_global: bool = False, engine: Engine | None = None) -> int:
    """Start the bot and block until it stops; the exit code for the CLI. ``engine``: an opened
    engine to serve instead of loading one (tests)."""
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_PROBLEM
    root = logging.getLogger()
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    install_redaction(token)
    if engine is None:
        engine = Engine(settings)
        engine.open(notify=lambda message: print(message, file=sys.stderr))
    storage = Storage(settings.discord.database)
    client = LaunchBot(settings, engine, storage, sync_global=sync_global)
    try:
        asyncio.run(_serve(client, token))
    except discord.LoginFailure:
        print(
            "launchbot discord: Discord rejected the token in DISCORD_TOKEN; reset it in the Developer "
            "Portal (Bot → Reset Token) and update .env.",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    except discord.PrivilegedIntentsRequired:
        print(
            "launchbot discord: enable the Message Content intent for the bot in the Developer Portal "
            "(Bot → Privileged Gateway Intents).",
            file=sys.stderr,
        )
        return EXIT_PROBLEM
    finally:
        storage.close()
    return EXIT_OK


async def _serve(client: LaunchBot, token: str) -> None:
    async with client:
        await client.start(token)
