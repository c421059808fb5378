"""The Discord front end: a thin ``commands.Bot`` over the answer engine, run by ``launchbot discord``.

The bot is handed the process's shared services (``bot.service.runtime.Services``: engine, storage,
limits, the asking flow, the index reload loop) and keeps only Discord's own state (the channel
allow-list); the cogs in ``bot/discord/exts/`` hold the commands. Engine and database calls go through
``asyncio.to_thread`` so the event loop keeps the gateway heartbeat and every other member's
interaction alive while a question is being answered or the index rebuilt. Nothing the bot sends can ping anyone
(``AllowedMentions.none()`` on the client and on every send), and the token is redacted from every
log line and never printed.
"""

from __future__ import annotations

import asyncio
import logging
import pkgutil
import sys

import discord
from discord import app_commands
from discord.ext import commands

import bot.discord.exts
from bot.config import Settings
from bot.core.engine import Engine
from bot.discord.checks import NotAllowed
from bot.discord.render import plain
from bot.discord.sharding import IdentifyGate
from bot.service.runtime import Services, run_services
from bot.service.storage import ChatConfig

logger = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
APOLOGY = "Sorry — something went wrong on my side. It has been logged; please try again in a moment."
NO_TOKEN = (
    "launchbot discord: no Discord bot token. Set DISCORD_TOKEN in the environment or in a .env "
    "file (copy .env.example to .env and fill it in); see the README's Discord section."
)
EXIT_OK, EXIT_PROBLEM = 0, 2
PLATFORM = "discord"


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


class LaunchBot(commands.AutoShardedBot):
    """The client plus the services the cogs share."""

    def __init__(self, services: Services, *, sync_global: bool = False) -> None:
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
            # None: Discord's recommended count, every shard in this process (README: Several machines)
            shard_count=services.settings.discord.shard_count,
            shard_ids=services.settings.discord.shard_ids,
        )
        self.services = services
        self.settings = services.settings
        self.sync_global = sync_global
        self.channel_configs: dict[int, ChatConfig] = {}
        redis_url = self.settings.redis_url
        self.identify_gate = IdentifyGate(redis_url.get_secret_value()) if redis_url else None
        self.max_concurrency: int | None = None

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """With Redis, space IDENTIFYs across every process of the bot, not only this one's shards."""
        if self.identify_gate is None or shard_id is None:
            await super().before_identify_hook(shard_id, initial=initial)
            return
        if self.max_concurrency is None:
            try:
                self.max_concurrency = (await self.fetch_session_start_limits()).max_concurrency
            except discord.HTTPException:
                logger.warning("could not read Discord's max_concurrency; identifying one shard at a time")
                self.max_concurrency = 1
        await self.identify_gate.wait(shard_id, self.max_concurrency)

    @property
    def runs_shard_zero(self) -> bool:
        """Shard 0's process syncs slash commands (and receives direct messages)."""
        return not self.shard_ids or 0 in self.shard_ids

    async def setup_hook(self) -> None:
        stored = await asyncio.to_thread(self.services.storage.chats, PLATFORM)
        self.channel_configs = {int(channel_id): config for channel_id, config in stored.items()}
        for extension in extensions():
            await self.load_extension(extension)
        self.services.start_reloading()
        if self.runs_shard_zero:
            await self.sync_commands()
        else:
            logger.info("shards %s: slash commands are synced by the process running shard 0", self.shard_ids)

    async def sync_commands(self, *, to_global: bool | None = None) -> list[str]:
        """Sync to the development guild (instant) or, only when asked, globally (up to an hour).

        A global sync also empties the development guild's own copy: a server that has both shows
        every command twice."""
        done = []
        guild_id = self.settings.discord.dev_guild_id
        to_global = self.sync_global if to_global is None else to_global
        if guild_id:
            guild = discord.Object(id=guild_id)
            if to_global:
                self.tree.clear_commands(guild=guild)
                await self.tree.sync(guild=guild)
                done.append(f"removed the development server {guild_id}'s copy (the global commands show there)")
            else:
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                done.append(f"{len(synced)} commands to the development server {guild_id}")
        if to_global:
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


def channel_config(configs: dict[int, ChatConfig], channel: object) -> ChatConfig | None:
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


def token(settings: Settings) -> str:
    """The configured bot token, or "" when there is none."""
    return settings.discord_token.get_secret_value().strip() if settings.discord_token else ""


def run(settings: Settings, *, sync_global: bool = False, engine: Engine | None = None) -> int:
    """Start the bot and block until it stops; the exit code for the CLI. ``engine``: an opened
    engine to serve instead of loading one (tests)."""
    secret = token(settings)
    if not secret:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_PROBLEM
    try:
        run_services(
            settings, lambda services: serve(services, secret, sync_global=sync_global), secrets=[secret], engine=engine
        )
    except (discord.LoginFailure, discord.PrivilegedIntentsRequired) as error:
        print(startup_problem(error), file=sys.stderr)
        return EXIT_PROBLEM
    return EXIT_OK


def startup_problem(error: BaseException) -> str:
    """One line saying what to fix when Discord refuses to start the bot."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return (
            "launchbot discord: enable the Message Content intent for the bot in the Developer Portal "
            "(Bot → Privileged Gateway Intents)."
        )
    return (
        "launchbot discord: Discord rejected the token in DISCORD_TOKEN; reset it in the Developer "
        "Portal (Bot → Reset Token) and update .env."
    )


async def serve(services: Services, secret: str, *, sync_global: bool = False) -> None:
    """Run the Discord client on the running event loop until it stops (``launchbot serve`` runs
    this beside the other front ends), or until ``services.stopping``: then its shards disconnect
    from the gateway (no new events), the questions in flight are answered and sent over HTTP,
    and the client closes."""
    client = LaunchBot(services, sync_global=sync_global)
    services.front_ends["discord"] = lambda: client.is_ready() and not client.is_closed()
    closing = asyncio.create_task(_close_when_stopping(client, services), name="discord stop")
    try:
        async with client:
            await client.start(secret)
    finally:
        closing.cancel()
        await services.stop_reloading()


async def _close_when_stopping(client: LaunchBot, services: Services) -> None:
    await services.stopping.wait()
    for shard in list(client.shards.values()):
        try:
            await shard.disconnect()
        except Exception as error:  # a shard that never connected
            logger.debug("shard %s: %s", shard.id, error)
    await services.drained()
    await client.close()
