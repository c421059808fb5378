"""Moderators steer: where the bot answers, how, and what members asked that it could not answer.

Every command here is ephemeral and gated in code by ``moderator_only()`` (Manage Server or the
configured moderator role). The unanswered list is what the knowledge base is missing: declined
questions plus answers voted down more than up, exportable as CSV.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import NO_MENTIONS, PLATFORM, LaunchBot, send_private
from bot.discord.checks import moderator_only
from bot.discord.render import ANSWERED_COLOUR, FIELD_LIMIT, fit
from bot.service.reports import date_text, gaps_csv, held_back_text, since

logger = logging.getLogger(__name__)

MODE_HELP = {"mention": "answers mentions with a reply", "thread": "answers mentions in a new thread"}
SHOWN_GAPS = 15


class Moderation(commands.Cog):
    channel = app_commands.Group(
        name="channel",
        description="Where and how the bot answers",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    async def _update(
        self, interaction: discord.Interaction, channel: discord.abc.GuildChannel | None, **change
    ) -> discord.abc.GuildChannel:
        """Defer, store the change (off the loop), and update the bot's in-memory copy."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        target = channel or interaction.channel
        if isinstance(target, discord.Thread):
            target = target.parent or target
        config = await asyncio.to_thread(
            self.bot.services.storage.set_chat, PLATFORM, str(target.id), str(interaction.guild_id), **change
        )
        self.bot.channel_configs[target.id] = config
        logger.info("channel %s in guild %s set to %s", target.id, interaction.guild_id, change)
        return target

    @channel.command(name="enable", description="Let the bot answer in a channel")
    @app_commands.describe(channel="Defaults to this channel")
    @moderator_only()
    async def enable(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        target = await self._update(interaction, channel, enabled=True)
        mode = self.bot.channel_configs[target.id].mode
        await send_private(interaction, f"Enabled in {target.mention}: `/ask` works there, and it {MODE_HELP[mode]}.")

    @channel.command(name="disable", description="Stop the bot answering in a channel")
    @app_commands.describe(channel="Defaults to this channel")
    @moderator_only()
    async def disable(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        target = await self._update(interaction, channel, enabled=False)
        await send_private(interaction, f"Disabled in {target.mention}.")

    @channel.command(name="mode", description="Answer mentions with a reply, or in a new thread")
    @app_commands.describe(mode="mention: reply in place; thread: open a thread per question")
    @moderator_only()
    async def mode(
        self,
        interaction: discord.Interaction,
        mode: Literal["mention", "thread"],
        channel: discord.TextChannel | None = None,
    ) -> None:
        target = await self._update(interaction, channel, mode=mode)
        enabled = self.bot.channel_configs[target.id].enabled
        note = "" if enabled else " (the bot is not enabled there yet: `/channel enable`)"
        await send_private(interaction, f"{target.mention} now {MODE_HELP[mode]}{note}.")

    @channel.command(name="list", description="The channels the bot answers in")
    @moderator_only()
    async def list_channels(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        mine = {
            cid: c
            for cid, c in self.bot.channel_configs.items()
            if c.community_id == str(interaction.guild_id) and c.enabled
        }
        lines = [f"<#{cid}> — {MODE_HELP[c.mode]}" for cid, c in sorted(mine.items())]
        await send_private(
            interaction,
            "\n".join(lines) if lines else "The bot is not enabled in any channel yet: use `/channel enable` there.",
        )

    @app_commands.command(name="stats", description="Questions asked, answered, declined and feedback")
    @app_commands.describe(days="Over the last N days (default 7)")
    @moderator_only()
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 7) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await asyncio.to_thread(
            self.bot.services.storage.stats, PLATFORM, str(interaction.guild_id), since(days)
        )
        embed = discord.Embed(title=f"Last {days} day(s)", colour=ANSWERED_COLOUR)
        embed.add_field(name="Asked", value=str(stats.asked))
        embed.add_field(name="Answered", value=str(stats.answered))
        embed.add_field(name="Declined", value=str(stats.declined))
        embed.add_field(name="Feedback", value=f"👍 {stats.up} · 👎 {stats.down}")
        held_back = held_back_text(self.bot.services.asking.held_back_in(PLATFORM, str(interaction.guild_id)))
        if held_back:
            embed.add_field(name="Dropped quietly since the bot started (one notice each window)", value=held_back)
        top = "\n".join(f"{n}× {fit(question, 150)}" for question, n in stats.top) or "—"
        embed.add_field(name="Top questions", value=top[:FIELD_LIMIT], inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="unanswered", description="Declined and 👎 questions: what the articles are missing")
    @app_commands.describe(days="Over the last N days (default 30)", export="Attach every one as a CSV file")
    @moderator_only()
    async def unanswered(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, 3650] = 30,
        export: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        gaps = await asyncio.to_thread(self.bot.services.storage.gaps, PLATFORM, str(interaction.guild_id), since(days))
        if not gaps:
            await send_private(interaction, f"Nothing unanswered or voted down in the last {days} day(s).")
            return
        lines = [
            f"`{date_text(g.created)}` {'👎' if g.answered else '∅'} {fit(g.question, 150)}" for g in gaps[:SHOWN_GAPS]
        ]
        more = f"\n…and {len(gaps) - SHOWN_GAPS} more" if len(gaps) > SHOWN_GAPS else ""
        embed = discord.Embed(
            title=f"{len(gaps)} question(s) the articles did not serve ({days} days)",
            description="\n".join(lines)[:3900] + more,
            colour=ANSWERED_COLOUR,
        )
        embed.set_footer(
            text="∅ declined · 👎 answered but voted down" + ("" if export else " · export:True attaches a CSV")
        )
        kwargs = {"file": discord.File(io.BytesIO(gaps_csv(gaps)), filename="unanswered.csv")} if export else {}
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs)


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Moderation(bot))
