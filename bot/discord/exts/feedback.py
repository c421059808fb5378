"""The buttons under every answer: "Sources" (the full passages, just for you) and 👍 / 👎.

They are ``DynamicItem``s: the answer's id lives in the button's ``custom_id``
(``launchbot:sources:42``, ``launchbot:vote:up:42``) and the classes are registered with the client
at startup, so a button on a message sent weeks ago, before any number of restarts, still finds its
answer in the database. A vote is one per member per answer; voting again changes it.
"""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord.ext import commands

from bot.discord.app import LaunchBot, apologise, send_private
from bot.discord.render import sources_embeds
from bot.service.storage import DOWN, UP

logger = logging.getLogger(__name__)

GONE = "I can't find that answer any more, sorry."
UNKNOWN_BUTTON = "This button no longer works. Ask again for fresh buttons."
KNOWN = re.compile(r"launchbot:(sources:\d+|vote:(up|down):\d+|gap:\d+(,\d+){0,2})")  # gap: the moderation cog's
VOTES = {"up": (UP, "👍"), "down": (DOWN, "👎")}


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button], template=r"launchbot:sources:(?P<id>\d+)"):
    def __init__(self, question_id: int) -> None:
        self.question_id = question_id
        super().__init__(
            discord.ui.Button(
                label="Sources",
                emoji="📄",
                style=discord.ButtonStyle.secondary,
                custom_id=f"launchbot:sources:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str], /
    ) -> SourcesButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            stored = await asyncio.to_thread(interaction.client.services.storage.get_answer, self.question_id)
            if stored is None:
                await send_private(interaction, GONE)
                return
            await interaction.followup.send(
                embeds=sources_embeds(stored.question, stored.sources, answered=stored.answered),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except Exception as error:
            await apologise(interaction, error, "the Sources button")


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"launchbot:vote:(?P<vote>up|down):(?P<id>\d+)"):
    def __init__(self, direction: str, question_id: int) -> None:
        self.direction = direction
        self.question_id = question_id
        super().__init__(
            discord.ui.Button(
                emoji=VOTES[direction][1],
                style=discord.ButtonStyle.secondary,
                custom_id=f"launchbot:vote:{direction}:{question_id}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str], /
    ) -> VoteButton:
        return cls(match["vote"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            vote, emoji = VOTES[self.direction]
            stored = await asyncio.to_thread(
                interaction.client.services.storage.vote, self.question_id, str(interaction.user.id), vote
            )
            await send_private(
                interaction,
                f"Thanks — your {emoji} is recorded (click the other one to change it)." if stored else GONE,
            )
        except Exception as error:
            await apologise(interaction, error, "a feedback button")


def answer_view(question_id: int, *, with_sources: bool = True, with_votes: bool = True) -> discord.ui.View:
    """The buttons for one stored answer; persistent (no timeout), found again by custom_id. A
    decline gets no votes: it is on the unanswered list already, and 👍 on "I don't know" says nothing."""
    view = discord.ui.View(timeout=None)
    if with_sources:
        view.add_item(SourcesButton(question_id))
    if with_votes:
        view.add_item(VoteButton("up", question_id))
        view.add_item(VoteButton("down", question_id))
    return view


class Feedback(commands.Cog):
    """Registers the persistent buttons; the answers themselves come from the ask cog."""

    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(SourcesButton, VoteButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(SourcesButton, VoteButton)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A button this version does not know (from an older one) would fail with "This interaction
        failed": answer it privately instead."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = (interaction.data or {}).get("custom_id", "")
        if KNOWN.fullmatch(custom_id) or interaction.response.is_done():
            return
        logger.info("a button with an unknown custom_id was pressed")
        try:
            await send_private(interaction, UNKNOWN_BUTTON)
        except discord.HTTPException:
            logger.warning("could not answer an unknown button", exc_info=True)


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Feedback(bot))
