"""Moderators steer: where the bot answers, how, what members asked that it could not answer, and
the notes that answer it once for everyone.

Every command here is ephemeral and gated in code by ``moderator_only()`` (Manage Server or the
configured moderator role). ``/stats`` attaches a chart of questions per day. The unanswered list is
what the knowledge base is missing: declined questions plus answers voted down more than up,
exportable as CSV; ``/gaps`` groups them into topics. Each topic has an "Answer" button (moderators
of the communities in ``notes.communities``): its form turns the answer into a moderator note, a
knowledge document quoted with the moderator's name wherever it answers; ``/note add``, ``list`` and
``remove`` do the same by command.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import NO_MENTIONS, PLATFORM, LaunchBot, apologise, send_private
from bot.discord.checks import is_maintainer, is_moderator, moderator_only
from bot.discord.render import ANSWERED_COLOUR, FIELD_LIMIT, answer_embed, fit, gaps_embed, note_embed
from bot.service.gaps import find_gaps
from bot.service.notes import Note, NoteAdded, NoteProblem
from bot.service.reports import date_text, gaps_csv, held_back_text, since, stats_report
from bot.service.text import cut

logger = logging.getLogger(__name__)

MODE_HELP = {"mention": "answers mentions with a reply", "thread": "answers mentions in a new thread"}
SHOWN_GAPS = 15
GAP_BUTTONS = 5  # one row of "Answer" buttons under /gaps, for its top topics
NOTIFIED = "There is now an answer to this question:"


class AnswerGapButton(discord.ui.DynamicItem[discord.ui.Button], template=r"launchbot:gap:(?P<ids>\d+(,\d+){0,2})"):
    """ "Answer" under a /gaps topic: a form whose answer becomes a moderator note for the topic's
    example questions (every one listed in the note). The ids are stored questions, so the button
    works after a restart (it is ephemeral, seen by one moderator)."""

    def __init__(self, number: int, question_ids: tuple[int, ...]) -> None:
        self.question_ids = question_ids
        super().__init__(
            discord.ui.Button(
                label=f"Answer {number}",
                emoji="✍️",
                style=discord.ButtonStyle.secondary,
                custom_id="launchbot:gap:" + ",".join(map(str, question_ids)),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str], /
    ) -> AnswerGapButton:
        return cls(0, tuple(int(n) for n in match["ids"].split(",")))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            refusal = note_refusal(interaction)
            if refusal:
                await send_private(interaction, refusal)
                return
            notes = interaction.client.services.notes
            questions = await asyncio.to_thread(notes.questions_of, self.question_ids)
            await interaction.response.send_modal(NoteForm("\n".join(questions)))
        except Exception as error:
            await apologise(interaction, error, "an Answer button")


class NoteForm(discord.ui.Modal, title="Answer for everyone (moderator note)"):
    """The question(s) a note answers, one per line, and the answer, quoted with the moderator's name."""

    questions = discord.ui.TextInput(
        label="Question(s) it answers, one per line",
        style=discord.TextStyle.paragraph,
        max_length=1000,
    )
    answer = discord.ui.TextInput(
        label="The answer (quoted as written, with your name)",
        style=discord.TextStyle.paragraph,
        max_length=1500,
    )

    def __init__(self, question: str = "") -> None:
        super().__init__(timeout=900)
        self.questions.default = question[:1000] or None

    async def on_submit(self, interaction: discord.Interaction) -> None:
        lines = [line for line in str(self.questions.value).splitlines() if line.strip()]
        await add_note(interaction, lines, str(self.answer.value))

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        await apologise(interaction, error, "the note form")


def note_refusal(interaction: discord.Interaction) -> str:
    """Why this member may not write a note here ("" when they may): moderators, of a listed community."""
    if interaction.guild_id is None or not (is_moderator(interaction) or is_maintainer(interaction)):
        return "Only moderators can write notes."
    return interaction.client.services.notes.refusal(PLATFORM, str(interaction.guild_id))


async def add_note(interaction: discord.Interaction, questions: list[str], answer: str) -> None:
    """Write the note (and reindex) off the loop, show what the bot now answers, and tell members
    who asked (``notes.notify_days``) in their thread or reply chain."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    refusal = note_refusal(interaction)
    if refusal:
        await send_private(interaction, refusal)
        return
    services = interaction.client.services
    author = interaction.user.display_name
    try:
        added: NoteAdded = await asyncio.to_thread(services.notes.add, questions, answer, author)
    except NoteProblem as problem:
        await send_private(interaction, fit(str(problem), 2000))
        return
    logger.info("moderator note %s added in guild %s", added.note.id, interaction.guild_id)
    told = await tell_askers(interaction, added.note)
    embed = note_embed(added.note, added.check_text() + (f"\nTold {told} member(s) in their threads." if told else ""))
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def tell_askers(interaction: discord.Interaction, note: Note) -> int:
    """Reply, in each recent unanswered question's thread or reply chain, with its answer now that
    ``note`` gives one (``notes.notify_days``; 0: off). How many were told."""
    services = interaction.client.services
    followups = await asyncio.to_thread(services.notes.followups, PLATFORM, str(interaction.guild_id), note)
    told = 0
    for waiting, answer in followups:
        channel = interaction.client.get_channel(int(waiting.thread_id or waiting.chat_id or 0))
        if channel is None:
            continue
        reference = None
        if waiting.answer_message and waiting.answer_message.isdigit():
            reference = discord.MessageReference(
                message_id=int(waiting.answer_message), channel_id=channel.id, fail_if_not_exists=False
            )
        try:
            await channel.send(NOTIFIED, embed=answer_embed(answer), reference=reference, allowed_mentions=NO_MENTIONS)
            told += 1
        except discord.HTTPException as error:
            logger.info("could not tell a member that question %d has an answer (%s)", waiting.id, error)
    return told


class Moderation(commands.Cog):
    channel = app_commands.Group(
        name="channel",
        description="Where and how the bot answers",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    note = app_commands.Group(
        name="note",
        description="Moderator notes: answers written once, quoted with your name wherever they answer",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AnswerGapButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AnswerGapButton)

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
        report = await asyncio.to_thread(
            stats_report, self.bot.services.storage, PLATFORM, str(interaction.guild_id), days
        )
        stats = report.stats
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
        embed.set_image(url="attachment://stats.png")
        chart = discord.File(io.BytesIO(report.chart), filename="stats.png", description="Questions per day")
        await interaction.followup.send(embed=embed, file=chart, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="gaps", description="What members ask that the articles miss, grouped into topics")
    @app_commands.describe(days="Over the last N days (default 7)")
    @moderator_only()
    async def gaps(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 7) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.bot.services
        report = await asyncio.to_thread(
            find_gaps, services.storage, services.engine, PLATFORM, str(interaction.guild_id), days
        )
        refusal = services.notes.refusal(PLATFORM, str(interaction.guild_id))
        embed = gaps_embed(report, notes_hint=refusal)
        view = discord.ui.View(timeout=None)
        if not refusal:
            for number, topic in enumerate(report.topics[:GAP_BUTTONS], start=1):
                view.add_item(AnswerGapButton(number, topic.question_ids))
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @note.command(name="add", description="Answer a question once, for everyone: quoted with your name")
    @app_commands.describe(question="The question it answers", answer="The answer, quoted as you write it")
    @moderator_only()
    async def note_add(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 500],
        answer: app_commands.Range[str, 1, 1500],
    ) -> None:
        await add_note(interaction, [question], answer)

    @note.command(name="list", description="Every moderator note")
    @moderator_only()
    async def note_list(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        notes = await asyncio.to_thread(self.bot.services.notes.list)
        lines = [f"`{n.id}` {fit(n.attribution, 100)}: {fit(' / '.join(n.questions), 200)}" for n in notes]
        text = "\n".join(lines) if lines else "No notes yet: `/gaps` shows what members ask that the articles miss."
        await send_private(interaction, cut(text, 2000))

    @note.command(name="remove", description="Remove a moderator note (it stops answering at once)")
    @app_commands.describe(note_id="The note's id, from /note list")
    @moderator_only()
    async def note_remove(self, interaction: discord.Interaction, note_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        refusal = note_refusal(interaction)
        if refusal:
            await send_private(interaction, refusal)
            return
        try:
            removed = await asyncio.to_thread(self.bot.services.notes.remove, note_id)
        except NoteProblem as problem:
            await send_private(interaction, fit(str(problem), 2000))
            return
        logger.info("moderator note %s removed in guild %s", removed.id, interaction.guild_id)
        await send_private(interaction, f"Removed note {removed.id}: it no longer answers.")

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
