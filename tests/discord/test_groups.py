"""Busy channels on Discord, through the ask and feedback cogs with spec'd mocks and the real engine:
a flood gets one answer and one reaction, a busy server one reply, replies count as questions by the
rule Telegram shares, other people's mentions are removed, and declines and old buttons behave."""

from __future__ import annotations

import asyncio

import discord
import pytest

from bot.discord.exts.ask import COOLING, Ask
from bot.discord.exts.feedback import UNKNOWN_BUTTON, Feedback
from bot.service.limits import BUSY, COOLDOWN, RateLimiter
from bot.service.storage import ChatConfig
from tests.helpers import MockBot, MockGuild, MockInteraction, MockMember, MockMessage, MockTextChannel

QUESTION = "When did the Progress MS-10 launch?"


@pytest.fixture
def bot(launch_engine, state):
    return MockBot(launch_engine.settings, launch_engine, state)


@pytest.fixture
def channel(bot):
    channel = MockTextChannel(guild=MockGuild())
    bot.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True)
    return channel


def said(channel, author, content: str, **kwargs) -> MockMessage:
    return MockMessage(channel=channel, guild=channel.guild, author=author, content=content, **kwargs)


def reply_to(answer: MockMessage, channel) -> discord.MessageReference:
    reference = discord.MessageReference(message_id=answer.id, channel_id=channel.id)
    reference.resolved = answer
    return reference


async def test_a_100_mention_flood_gets_one_answer_and_one_reaction(bot, channel):
    member, cog = MockMember(), Ask(bot)
    flood = [said(channel, member, f"<@{bot.user.id}> {QUESTION}") for _ in range(100)]
    await asyncio.gather(*(cog.on_message(m) for m in flood))
    assert sum(m.reply.await_count for m in flood) == 1
    reactions = [call.args for m in flood for call in m.add_reaction.await_args_list]
    assert reactions == [(COOLING,)]  # no public "cooldown" replies
    assert bot.services.asking.held_back_in("discord", str(channel.guild.id)) == {COOLDOWN: 98}


async def test_a_busy_server_hears_once_then_silence(bot, channel):
    bot.services.asking.limiter = RateLimiter(user_cooldown=0, guild_per_minute=1)
    cog = Ask(bot)
    messages = [said(channel, MockMember(), f"<@{bot.user.id}> {QUESTION}") for _ in range(4)]
    for message in messages:
        await cog.on_message(message)
    replies = [m.reply.await_args for m in messages if m.reply.await_count]
    assert len(replies) == 2 and "Lots of questions" in replies[1].args[0]
    assert bot.services.asking.held_back_in("discord", str(channel.guild.id)) == {BUSY: 2}


async def test_a_reply_to_an_answer_that_reads_as_a_question_is_answered(bot, channel):
    answer = MockMessage(channel=channel, guild=channel.guild, author=bot.user)
    cog = Ask(bot)
    thanks = said(channel, MockMember(), "thanks, that helped!", reference=reply_to(answer, channel))
    await cog.on_message(thanks)
    thanks.reply.assert_not_awaited()

    question = said(channel, MockMember(), "where was it launched from", reference=reply_to(answer, channel))
    await cog.on_message(question)
    assert "Baikonur" in question.reply.await_args.kwargs["embed"].description

    elsewhere = MockMessage(channel=channel, guild=channel.guild, author=MockMember())
    other = said(channel, MockMember(), "where was it launched from?", reference=reply_to(elsewhere, channel))
    await cog.on_message(other)  # a question to someone else is theirs to answer
    other.reply.assert_not_awaited()


async def test_other_peoples_mentions_are_removed_before_answering(bot, channel):
    content = (
        f"<@{bot.user.id}> <@123456789012345678> <@&987654321098765432> @bob where was Progress MS-10 launched from?"
    )
    message = said(channel, MockMember(), content)
    await Ask(bot).on_message(message)
    embed = message.reply.await_args.kwargs["embed"]
    assert "Baikonur" in embed.description and embed.title == "where was Progress MS-10 launched from?"


async def test_a_decline_has_no_vote_buttons(bot, channel):
    interaction = MockInteraction(bot, channel=channel, guild=channel.guild)
    cog = Ask(bot)
    await cog.ask.callback(cog, interaction, question="What is the best recipe for chocolate cake?")
    ids = [item.custom_id for item in interaction.followup.send.await_args.kwargs["view"].children]
    assert not any(":vote:" in custom_id for custom_id in ids)


async def test_an_unknown_button_is_answered_privately(bot):
    feedback = Feedback(bot)
    old = MockInteraction(bot, type=discord.InteractionType.component, data={"custom_id": "poll:42:yes"})
    await feedback.on_interaction(old)
    assert old.response.send_message.await_args.args[0] == UNKNOWN_BUTTON
    assert old.response.send_message.await_args.kwargs["ephemeral"] is True
    known = MockInteraction(bot, type=discord.InteractionType.component, data={"custom_id": "launchbot:vote:up:7"})
    await feedback.on_interaction(known)  # the button itself answers
    known.response.send_message.assert_not_awaited()
