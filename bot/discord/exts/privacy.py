"""Members' own data: ``/forget`` removes every question a member asked here and every vote they gave.

Anyone may run it, for themselves only; the reply is ephemeral. What reports show was never who asked
(``bot.service.storage``), and what is left after ``/forget`` is not theirs at all: their questions
leave the counts, the charts and the gaps. Questions also expire on their own after
``state.retention_days``. A conversation's recent turns (kept 30 minutes for follow-ups, not tied to a
member) expire by themselves.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import PLATFORM, LaunchBot, send_private
from bot.service.text import forgotten_text

logger = logging.getLogger(__name__)


class Privacy(commands.Cog):
    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    @app_commands.command(name="forget", description="Delete every question you asked the bot and every vote you gave")
    async def forget(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        forgotten = await asyncio.to_thread(services.storage.forget_member, PLATFORM, str(interaction.user.id))
        logger.info("a member's questions (%d) and votes (%d) were forgotten", forgotten.questions, forgotten.votes)
        retention = services.settings.state.retention_days
        await send_private(interaction, forgotten_text(forgotten, retention))


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Privacy(bot))
