"""Maintainers keep the knowledge current: ``/reindex``, ``/sources``, ``/status``, ``/sync``.

``/reindex`` runs the engine's incremental build in a worker thread; the engine swaps the new index
in atomically, refuses a second concurrent build (``IndexBusy``) and keeps the old index serving if
the build fails, so this cog only has to report. An index rebuilt by ``launchbot index`` in another
process is picked up by the shared reload loop (``bot.service.runtime``), so a CLI reindex needs no
restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.engine import BuildReport, IndexBusy
from bot.discord.app import NO_MENTIONS, LaunchBot, send_private
from bot.discord.checks import maintainer_only, moderator_only
from bot.discord.render import ANSWERED_COLOUR, DECLINED_COLOUR, DESCRIPTION_LIMIT, FIELD_LIMIT, fit
from bot.service.reports import latency_text
from bot.service.text import provenance

logger = logging.getLogger(__name__)

BUSY = "A reindex is already running; try again when it finishes."
LISTED_DOCUMENTS = 20


def _names(ids: list[str]) -> str:
    return fit(", ".join(ids), FIELD_LIMIT) if ids else "—"


def report_embed(report: BuildReport) -> discord.Embed:
    embed = discord.Embed(
        title="Reindexed" + (" (full rebuild)" if report.full_rebuild else ""),
        description=fit(report.summary(), 1000),
        colour=ANSWERED_COLOUR,
    )
    for label, ids in (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed)):
        embed.add_field(name=f"{label} ({len(ids)})", value=_names(ids), inline=False)
    embed.add_field(name="Chunks", value=str(report.chunks))
    embed.add_field(name="Time", value=f"{report.seconds:.1f} s")
    if report.errors:
        skipped = "\n".join(str(error) for error in report.errors)
        embed.add_field(name=f"Skipped ({len(report.errors)})", value=fit(skipped, FIELD_LIMIT), inline=False)
    if report.warning():
        embed.add_field(name="Warning", value=fit(report.warning(), FIELD_LIMIT), inline=False)
    return embed


def shards_text(bot: LaunchBot) -> str:
    """This process's shards and each one's gateway latency, e.g. "0: 41 ms · 1: 44 ms (of 4)"."""
    shards = sorted(bot.shards.items())
    if not shards:
        return "not connected"
    parts = [
        f"{shard_id}: {info.latency * 1000:.0f} ms" if info.latency == info.latency else f"{shard_id}: —"
        for shard_id, info in shards
    ]
    return " · ".join(parts) + f" (of {bot.shard_count})"


class Maintenance(commands.Cog):
    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot
        self.engine = bot.services.engine

    @app_commands.command(name="reindex", description="Re-read the knowledge folder and swap in the new index")
    @app_commands.describe(rebuild="Re-embed every document instead of only new and changed ones")
    @maintainer_only()
    async def reindex(self, interaction: discord.Interaction, rebuild: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        logger.info("reindex requested (rebuild=%s) in guild %s", rebuild, interaction.guild_id)
        try:
            report = await asyncio.to_thread(self.engine.reindex, rebuild)
        except IndexBusy:
            await send_private(interaction, BUSY)
            return
        except Exception as error:
            logger.error("reindex failed; the previous index keeps serving", exc_info=error)
            reason = f"{type(error).__name__}: {error}"
            await send_private(
                interaction,
                fit(f"The reindex failed — {reason}. The previous index is still answering questions.", 1900),
            )
            return
        logger.info("reindex done: %s", report.summary())
        await interaction.followup.send(embed=report_embed(report), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="sources", description="The documents the bot answers from")
    @moderator_only()
    async def sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        manifest = self.engine.index.manifest
        documents = list(manifest["documents"].items())
        known = self.engine.index.documents
        lines: list[str] = []
        for doc_id, meta in documents[:LISTED_DOCUMENTS]:
            line = f"`{meta['chunks']:>3}` chunks — {fit(meta['title'], 150)}"
            if doc_id in known:  # link, published date, when added and how
                line += f"\n      {fit(provenance(known[doc_id]), 250)}"
            if sum(len(shown) + 1 for shown in lines) + len(line) > DESCRIPTION_LIMIT - 100:
                break
            lines.append(line)
        if len(documents) > len(lines):
            lines.append(f"…and {len(documents) - len(lines)} more")
        embed = discord.Embed(
            title=f"{len(documents)} document(s) indexed",
            description="\n".join(lines) or "No documents.",
            colour=ANSWERED_COLOUR,
        )
        skipped = manifest.get("skipped", [])
        if skipped:
            text = "\n".join(f"{item['path']}: {item['reason']}" for item in skipped)
            embed.add_field(name=f"Skipped ({len(skipped)})", value=fit(text, FIELD_LIMIT), inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="status", description="Index freshness, model, uptime and answer latency")
    @moderator_only()
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        engine = self.engine
        freshness = await asyncio.to_thread(engine.freshness)
        manifest = engine.index.manifest
        embed = discord.Embed(title="launchbot status", colour=DECLINED_COLOUR if freshness.stale else ANSWERED_COLOUR)
        embed.add_field(
            name="Index",
            value=fit(
                f"{engine.index.path.name}, built {manifest['created']}, {manifest['counts']['chunks']} chunks",
                FIELD_LIMIT,
            ),
            inline=False,
        )
        stale = " — run /reindex" if freshness.stale else ""
        embed.add_field(name="Freshness", value=fit(freshness.describe(), 900) + stale, inline=False)
        embed.add_field(name="Model", value=fit(str(manifest["model"]), FIELD_LIMIT), inline=False)
        embed.add_field(name="Uptime", value=str(timedelta(seconds=int(time.time() - self.bot.services.started))))
        embed.add_field(name="Answer latency", value=latency_text(list(self.bot.services.latencies)))
        gateway = self.bot.latency * 1000
        embed.add_field(name="Gateway", value=f"{gateway:.0f} ms" if gateway == gateway else "—")
        embed.add_field(name="Shards", value=fit(shards_text(self.bot), FIELD_LIMIT), inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="sync", description="Publish the slash commands (global takes up to an hour)")
    @app_commands.describe(scope="guild: the configured development server; global: every server")
    @maintainer_only()
    async def sync(self, interaction: discord.Interaction, scope: Literal["guild", "global"] = "guild") -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        done = await self.bot.sync_commands(to_global=scope == "global")
        await send_private(
            interaction,
            "Synced " + "; ".join(done) + "."
            if done
            else "Nothing to sync: no development server is configured (discord.dev_guild_id).",
        )


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Maintenance(bot))
