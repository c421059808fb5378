"""Maintainers bring articles in from Discord: ``/knowledge add <url>``, ``/knowledge list``,
``/knowledge remove <id>``.

Only maintainers (Administrator, or ``discord.maintainer_role``) may run them: the group is hidden
from others by default, and each command checks in code (``maintainer_only``) on every call.
Fetching, extracting and indexing run in a worker thread (``bot.service.library``); replies are
private and say what was added, or why not.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import NO_MENTIONS, LaunchBot
from bot.discord.checks import maintainer_only
from bot.discord.render import ANSWERED_COLOUR, DESCRIPTION_LIMIT, fit, plain
from bot.service import library

logger = logging.getLogger(__name__)


class Knowledge(commands.Cog):
    knowledge = app_commands.Group(
        name="knowledge",
        description="Bring articles in, list them, take them out",
        guild_only=True,
        default_permissions=discord.Permissions(administrator=True),
    )

    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    @property
    def engine(self):
        return self.bot.services.engine

    @knowledge.command(name="add", description="Fetch an article from a link and answer from it")
    @app_commands.describe(url="The article's web address (https://…)")
    @maintainer_only()
    async def add(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await library.add_link(self.engine, url)
        await interaction.followup.send(plain(reply), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @knowledge.command(name="list", description="The documents the bot answers from, with their ids")
    @maintainer_only()
    async def list_documents(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        lines = await library.document_lines(self.engine)
        embed = discord.Embed(
            title="Knowledge base", description=fit("\n".join(lines), DESCRIPTION_LIMIT), colour=ANSWERED_COLOUR
        )
        embed.set_footer(text="/knowledge remove <id> takes one out; /knowledge add <url> brings one in.")
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @knowledge.command(name="remove", description="Take a document out (its file is kept aside)")
    @app_commands.rename(doc_id="id")
    @app_commands.describe(doc_id="The document's id, as /knowledge list shows it")
    @maintainer_only()
    async def remove(self, interaction: discord.Interaction, doc_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await library.remove(self.engine, doc_id)
        await interaction.followup.send(plain(reply), ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Knowledge(bot))
