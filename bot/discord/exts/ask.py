"""Members ask: ``/ask question:`` and explicit mentions of the bot in the channels a moderator enabled.

The asking flow itself (refusals, limits, answering in a worker thread, storage) is the service's
(``bot.service.asking``); this cog reads Discord's side of it: where the question came from, whether
it was addressed to the bot at all (``bot.service.addressing``, the rule Telegram shares: a mention,
or a reply to the bot that reads as a question), and how the answer is posted (an embed with the
feedback buttons, as a reply or in a new thread). An answer counts as delivered only once Discord
accepted it.

Refusals of mentions are told once per window and never as a stream of public replies: a member's
cooldown is a ⏳ reaction on their message, anything else one short reply; what follows in the
window is dropped quietly (and counted). ``/ask`` refusals are ephemeral, only the member sees them.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.engine import clean_question
from bot.discord.app import APOLOGY, NO_MENTIONS, PLATFORM, LaunchBot, channel_config
from bot.discord.exts.feedback import answer_view
from bot.discord.render import CONTENT_LIMIT, answer_embed
from bot.service.addressing import is_question, without_mentions
from bot.service.asking import COOLDOWN, Asked
from bot.service.storage import Origin
from bot.service.text import cut

logger = logging.getLogger(__name__)

NOT_ENABLED = "I'm not enabled in this channel. A moderator can turn me on here with `/channel enable`."
MENTION_HINT = "Mention me with your question, or use `/ask`."
COOLING = "⏳"  # a member's cooldown, told without a message
THREAD_NAME_LIMIT = 100


def origin(guild_id: int | None, channel: object, user_id: int) -> Origin:
    """Where a Discord question came from: server, channel (a thread's parent) and thread."""
    thread = isinstance(channel, discord.Thread)
    channel_id = channel.parent_id if thread else getattr(channel, "id", None)
    return Origin(
        PLATFORM,
        _text(guild_id),
        _text(channel_id),
        str(user_id),
        thread_id=str(channel.id) if thread else None,
    )


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


class Ask(commands.Cog):
    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot
        self.asking = bot.services.asking

    # ------------------------------------------------------------------ the two ways to ask

    @app_commands.command(name="ask", description="Ask about the Progress MS-10 launch; answers quote the articles")
    @app_commands.describe(question="Your question, in a sentence")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        question = without_mentions(question)
        where = origin(interaction.guild_id, interaction.channel, interaction.user.id)
        config = channel_config(self.bot.channel_configs, interaction.channel)
        refusal = self.asking.refusal(
            question, where, enabled=config is not None and config.enabled, not_enabled=NOT_ENABLED
        )
        await interaction.response.defer(ephemeral=refusal is not None, thinking=True)
        if refusal is not None:
            # A command needs its response; only the member sees it, so each one is told.
            await interaction.followup.send(_own(refusal.text), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        async with self.bot.services.question():  # a graceful stop waits for it to be sent
            try:
                conversation = await self.conversation_of(interaction.channel)
                asked = await self.asking.answer(question, where, conversation=conversation)
                sent = await interaction.followup.send(
                    embed=answer_embed(asked.answer), view=_view(asked), allowed_mentions=NO_MENTIONS
                )
            except Exception as error:
                await self._apologise_privately(interaction, error)
                return
            await self.asking.delivered(asked, conversation=f"interaction:{interaction.id}", message_ids=_ids(sent))

    async def _apologise_privately(self, interaction: discord.Interaction, error: BaseException) -> None:
        """The public "thinking…" message would turn any followup public: remove it, then apologise
        in a message only the member sees."""
        logger.error("/ask failed", exc_info=error)
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            logger.warning("could not remove the public thinking message of a failed /ask", exc_info=True)
        try:
            await interaction.followup.send(APOLOGY, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            logger.warning("could not send the apology for /ask", exc_info=True)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.guild is None or me is None or not addressed_to(me.id, message):
            return
        config = channel_config(self.bot.channel_configs, message.channel)
        if config is None or not config.enabled:
            return  # not an allowed channel: stay silent rather than nag
        try:
            await self._answer_mention(message, without_mentions(message.content), config.mode)
        except Exception as error:
            logger.error("answering a mention failed", exc_info=error)
            await _reply_quietly(message, "Sorry — something went wrong on my side. Please try again later.")

    async def _answer_mention(self, message: discord.Message, question: str, mode: str) -> None:
        where = origin(message.guild.id, message.channel, message.author.id)
        refusal = self.asking.refusal(question, where, hint=MENTION_HINT)
        if refusal is not None:
            if not refusal.notify:
                return  # told already in this window: dropped quietly (the service counts it)
            if refusal.reason == COOLDOWN:
                await _react_quietly(message, COOLING)
            else:
                await _reply_quietly(message, refusal.text)
            return
        async with self.bot.services.question():  # a graceful stop waits for it to be sent
            conversation = await self.conversation_of(message.channel, message.reference)
            async with message.channel.typing():
                asked = await self.asking.answer(question, where, conversation=conversation)
            embed, view = answer_embed(asked.answer), _view(asked)
            if mode == "thread" and not isinstance(message.channel, discord.Thread):
                name = clean_question(question, len(question) + 1).text or "Question"
                thread = await message.create_thread(name=cut(name, THREAD_NAME_LIMIT))
                sent = await thread.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
                started = f"thread:{thread.id}"
            else:
                sent = await message.reply(embed=embed, view=view, allowed_mentions=NO_MENTIONS, mention_author=False)
                started = f"message:{message.id}"
            await self.asking.delivered(asked, conversation=started, message_ids=_ids(sent))

    async def conversation_of(self, channel: object, reference: discord.MessageReference | None = None) -> str | None:
        """The conversation a question continues: the thread the bot opened that it is asked in, or
        the one of the bot's answers it replies to; None when it starts afresh."""
        me = self.bot.user
        if isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id:
            return f"thread:{channel.id}"
        if reference is not None and reference.message_id is not None:
            return await self.asking.replied_to(PLATFORM, str(reference.message_id))
        return None


def addressed_to(bot_id: int, message: discord.Message) -> bool:
    """A message that mentions the bot in its text, or a reply to one of the bot's messages that
    reads as a question ("thanks!" does not). A reply lists the bot in ``mentions`` when it pings
    the author it replies to, but only ``raw_mentions`` are the mentions written in the text."""
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    replies_to_bot = reference is not None and (
        (isinstance(resolved, discord.Message) and resolved.author.id == bot_id)
        or any(user.id == bot_id for user in message.mentions)
    )
    return is_question(
        without_mentions(message.content), mentions_bot=bot_id in message.raw_mentions, replies_to_bot=replies_to_bot
    )


def _ids(message: object) -> list[str]:
    """The id of a message the bot posted, as text (none if Discord returned no message)."""
    message_id = getattr(message, "id", None)
    return [str(message_id)] if message_id is not None else []


def _view(asked: Asked) -> discord.ui.View:
    return answer_view(asked.question_id, with_sources=asked.has_sources, with_votes=asked.answer.answered)


def _own(text: str) -> str:
    """The bot's own wording (refusals never echo the question), kept within the content limit."""
    return cut(text, CONTENT_LIMIT)


async def _react_quietly(message: discord.Message, emoji: str) -> None:
    try:
        await message.add_reaction(emoji)
    except discord.HTTPException as error:  # no Add Reactions permission, or the message is gone
        logger.info("could not react to a mention on cooldown (%s)", error)


async def _reply_quietly(message: discord.Message, text: str) -> None:
    try:
        await message.reply(_own(text), allowed_mentions=NO_MENTIONS, mention_author=False)
    except discord.HTTPException:
        logger.warning("could not reply to a mention", exc_info=True)


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Ask(bot))
