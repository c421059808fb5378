"""Members ask: ``/ask question:`` and mentions of the bot in the channels a moderator enabled.

Before anything reaches the engine, three cheap in-memory checks run on the event loop: is the bot
enabled here, is the question acceptable (empty, too long: the cap is stated), and is the member or
the server over its rate (the reply says when to retry). The answer itself is computed in a worker
thread, stored with its sources, and posted as an embed with the feedback buttons.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.answer import Answer
from bot.core.conversation import Turn, turn_of
from bot.core.question import clean_question
from bot.discord.app import NO_MENTIONS, LaunchBot, channel_config
from bot.discord.exts.feedback import answer_view
from bot.discord.render import CONTENT_LIMIT, answer_embed, cut, stored_sources
from bot.service.limits import retry_message

logger = logging.getLogger(__name__)

NOT_ENABLED = "I'm not enabled in this channel. A moderator can turn me on here with `/channel enable`."
THREAD_NAME_LIMIT = 100
PLATFORM = "discord"


@dataclass(frozen=True)
class Reply:
    """What to post for one question."""

    embed: discord.Embed
    view: discord.ui.View
    answer: Answer


class Ask(commands.Cog):
    def __init__(self, bot: LaunchBot) -> None:
        self.bot = bot

    # ------------------------------------------------------------------ the two ways to ask

    @app_commands.command(name="ask", description="Ask about the Progress MS-10 launch; answers quote the articles")
    @app_commands.describe(question="Your question, in a sentence")
    @app_commands.guild_only()
    async def ask(self, interaction: discord.Interaction, question: str) -> None:
        question = strip_mentions(question)
        refusal = self.refusal(interaction.channel, interaction.guild_id, interaction.user.id, question)
        await interaction.response.defer(ephemeral=refusal is not None, thinking=True)
        if refusal is not None:
            await interaction.followup.send(_own(refusal), ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        key = self.conversation_of(interaction.channel, None)
        history = self.bot.conversations.history(PLATFORM, key)
        reply = await self.respond(question, interaction.guild_id, interaction.channel_id, interaction.user.id, history)
        sent = await interaction.followup.send(embed=reply.embed, view=reply.view, allowed_mentions=NO_MENTIONS)
        self.remember(key or f"interaction:{interaction.id}", reply.answer, sent)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or message.guild is None or me is None or me not in message.mentions:
            return
        config = channel_config(self.bot.channel_configs, message.channel)
        if config is None or not config.enabled:
            return  # not an allowed channel: stay silent rather than nag
        try:
            await self._answer_mention(message, strip_mentions(message.content), config.mode)
        except Exception as error:
            logger.error("answering a mention failed", exc_info=error)
            await _reply_quietly(message, "Sorry — something went wrong on my side. Please try again later.")

    async def _answer_mention(self, message: discord.Message, question: str, mode: str) -> None:
        refusal = self.refusal(message.channel, message.guild.id, message.author.id, question, mention=True)
        if refusal is not None:
            await _reply_quietly(message, refusal)
            return
        key = self.conversation_of(message.channel, message.reference)
        history = self.bot.conversations.history(PLATFORM, key)
        async with message.channel.typing():
            reply = await self.respond(question, message.guild.id, message.channel.id, message.author.id, history)
        if mode == "thread" and not isinstance(message.channel, discord.Thread):
            name = clean_question(question, len(question) + 1).text or "Question"
            thread = await message.create_thread(name=cut(name, THREAD_NAME_LIMIT))
            sent = await thread.send(embed=reply.embed, view=reply.view, allowed_mentions=NO_MENTIONS)
            key = f"thread:{thread.id}"
        else:
            sent = await message.reply(
                embed=reply.embed, view=reply.view, allowed_mentions=NO_MENTIONS, mention_author=False
            )
        self.remember(key or f"message:{message.id}", reply.answer, sent)

    # ------------------------------------------------------------------ conversations

    def conversation_of(self, channel: object, reference: discord.MessageReference | None) -> str | None:
        """The conversation a question continues: the thread the bot opened that it is asked in, or
        the one of the bot's answer it replies to; None for a question that starts afresh."""
        me = self.bot.user
        if isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id:
            return f"thread:{channel.id}"
        if reference is not None and reference.message_id is not None:
            return self.bot.conversations.replied_to(PLATFORM, str(reference.message_id))
        return None

    def remember(self, key: str, answer: Answer, sent: object) -> None:
        """Add the turn to its conversation and link the posted answer, so a reply to it continues."""
        message_id = getattr(sent, "id", None)
        self.bot.conversations.add(PLATFORM, key, turn_of(answer), str(message_id) if message_id else None)

    # ------------------------------------------------------------------ shared

    def refusal(
        self, channel: object, guild_id: int | None, user_id: int, question: str, *, mention: bool = False
    ) -> str | None:
        """Why this question will not be answered, or None. In memory only: it runs on the event loop."""
        if not mention:
            config = channel_config(self.bot.channel_configs, channel)
            if config is None or not config.enabled:
                return NOT_ENABLED
        clean = clean_question(question, self.bot.settings.max_question_chars)
        if clean.problem is not None:
            hint = " Mention me with your question, or use `/ask`." if mention else ""
            return clean.problem[0].upper() + clean.problem[1:] + hint
        wait = self.bot.limiter.acquire(guild_id, user_id)
        return retry_message(wait) if wait > 0 else None

    async def respond(
        self,
        question: str,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int,
        history: list[Turn] | None = None,
    ) -> Reply:
        """Answer in a worker thread (with the conversation's earlier turns), store it (also off the
        loop), and build the message."""
        async with self.bot.answer_slots:
            started = time.perf_counter()
            answer: Answer = await asyncio.to_thread(self.bot.engine.answer, question, history or None)
            latency_ms = (time.perf_counter() - started) * 1000
        self.bot.latencies.append(latency_ms)
        question_id = await asyncio.to_thread(
            self.bot.storage.record_question,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            question=answer.question,
            answered=answer.answered,
            answer=answer.text,
            sources=stored_sources(answer),
            confidence=answer.confidence,
            latency_ms=latency_ms,
        )
        self._log(question_id, answer, guild_id, user_id, latency_ms)
        has_sources = bool(answer.sources or answer.closest)
        return Reply(answer_embed(answer), answer_view(question_id, with_sources=has_sources), answer)

    def _log(self, question_id: int, answer: Answer, guild_id: int | None, user_id: int, latency_ms: float) -> None:
        outcome = "answered" if answer.answered else "declined (unanswered)"
        if self.bot.settings.discord.log_question_text:
            logger.info(
                "question %d %s in %.0f ms (guild %s, user %s): %r",
                question_id,
                outcome,
                latency_ms,
                guild_id,
                user_id,
                answer.question,
            )
        else:
            logger.info("question %d %s in %.0f ms (guild %s)", question_id, outcome, latency_ms, guild_id)


_MENTIONS = re.compile(r"<@[!&]?\d+>|<#\d+>|@(?:everyone|here)\b")


def strip_mentions(content: str) -> str:
    """The question without mentions: they address people, they are not part of what is asked."""
    return " ".join(_MENTIONS.sub(" ", content).split())


def _own(text: str) -> str:
    """The bot's own wording (refusals never echo the question), kept within the content limit."""
    return cut(text, CONTENT_LIMIT)


async def _reply_quietly(message: discord.Message, text: str) -> None:
    try:
        await message.reply(_own(text), allowed_mentions=NO_MENTIONS, mention_author=False)
    except discord.HTTPException:
        logger.warning("could not reply to a mention", exc_info=True)


async def setup(bot: LaunchBot) -> None:
    await bot.add_cog(Ask(bot))
