"""Follow-up questions on Discord, through the ask cog with spec'd mocks and the real engine: in a
thread the bot opened and along a chain of replies to its answers, earlier turns are the history;
an unrelated question is still declined, and a conversation left idle is forgotten. On SQLite and on
PostgreSQL, where the conversations are shared by every process."""

from __future__ import annotations

import discord
import pytest

from bot.core.answering.conversation import quoted_sentences
from bot.core.engine import Engine
from bot.discord.exts.ask import Ask
from bot.service.storage import ChatConfig, Storage
from tests.helpers import (
    ON_BOTH_STATE_BACKENDS,
    MockBot,
    MockGuild,
    MockInteraction,
    MockMember,
    MockMessage,
    MockTextChannel,
    MockThread,
)

pytestmark = ON_BOTH_STATE_BACKENDS


@pytest.fixture
def bot(launch_engine: Engine, state: Storage):
    settings = launch_engine.settings.model_copy(
        update={"chat": launch_engine.settings.chat.model_copy(update={"user_cooldown_seconds": 0})}
    )
    return MockBot(settings, launch_engine, state)


def channel_in(bot: MockBot, mode: str) -> MockTextChannel:
    guild = MockGuild()
    channel = MockTextChannel(guild=guild)
    bot.channel_configs[channel.id] = ChatConfig(str(guild.id), enabled=True, mode=mode)
    return channel


def mention(bot: MockBot, channel, content: str, reply_to: MockMessage | None = None) -> MockMessage:
    reference = None
    if reply_to is not None:
        reference = discord.MessageReference(message_id=reply_to.id, channel_id=channel.id)
    message = MockMessage(
        channel=channel,
        guild=channel.guild,
        author=MockMember(),
        mentions=[bot.user],
        content=f"<@{bot.user.id}> {content}",
        reference=reference,
    )
    message.reply.return_value = MockMessage(channel=channel, author=bot.user)  # the bot's answer
    return message


def first_quote(call) -> str:
    quotes = quoted_sentences(call.kwargs["embed"].description)
    return quotes[0] if quotes else ""


def declined(call) -> bool:
    return "don't cover" in call.kwargs["embed"].description


async def test_a_follow_up_in_the_thread_the_bot_opened_leans_on_the_thread(bot):
    cog, channel = Ask(bot), channel_in(bot, "thread")
    opening = mention(bot, channel, "What is Progress 71?")
    thread: MockThread = opening.create_thread.return_value
    thread.owner_id, thread.guild = bot.user.id, channel.guild  # the bot opened it
    await cog.on_message(opening)
    assert "Progress 71" in first_quote(thread.send.await_args)

    follow_up = mention(bot, thread, "When did it dock?")
    await cog.on_message(follow_up)
    assert "November 18" in first_quote(follow_up.reply.await_args)

    switch = mention(bot, thread, "What is the capital of Australia?")
    await cog.on_message(switch)
    assert declined(switch.reply.await_args)

    # /ask in the thread continues it too (the declined switch lent nothing: "it" is still Progress 71).
    interaction = MockInteraction(bot, channel=thread, guild=channel.guild)
    await cog.ask.callback(cog, interaction, question="And where was it launched from?")
    assert "Baikonur" in first_quote(interaction.followup.send.await_args)
    assert len(bot.services.asking.conversations.history("discord", f"thread:{thread.id}")) == 4

    # The same follow-up in a thread someone else opened has nothing to lean on.
    elsewhere = MockThread(parent=channel, guild=channel.guild, owner_id=MockMember().id)
    bot.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True, mode="mention")
    alone = mention(bot, elsewhere, "When did it dock?")
    await cog.on_message(alone)
    assert declined(alone.reply.await_args)


async def test_a_reply_chain_to_the_bots_answers_is_one_conversation(bot):
    cog, channel = Ask(bot), channel_in(bot, "mention")
    first = mention(bot, channel, "Who recorded the launch video?")
    await cog.on_message(first)
    answer = first.reply.return_value

    second = mention(bot, channel, "Which expedition does he command?", reply_to=answer)
    await cog.on_message(second)
    assert "Expedition 57" in first_quote(second.reply.await_args)

    third = mention(bot, channel, "When did his crew arrive at the station?", reply_to=second.reply.return_value)
    await cog.on_message(third)
    assert "June 8" in first_quote(third.reply.await_args)
    assert len(bot.services.asking.conversations.history("discord", f"message:{first.id}")) == 3

    # Not a reply (or a reply to a member's message): a new conversation, the question alone.
    fresh = mention(bot, channel, "When did it dock?", reply_to=second)
    await cog.on_message(fresh)
    assert declined(fresh.reply.await_args)


async def test_a_topic_switch_in_a_reply_chain_is_declined_and_the_chain_goes_on(bot):
    cog, channel = Ask(bot), channel_in(bot, "mention")
    first = mention(bot, channel, "What is Progress 71?")
    await cog.on_message(first)
    switch = mention(bot, channel, "What is the capital of Australia?", reply_to=first.reply.return_value)
    await cog.on_message(switch)
    assert declined(switch.reply.await_args)
    # The declined turn lends nothing: "it" still means Progress 71.
    back = mention(bot, channel, "When did it dock?", reply_to=switch.reply.return_value)
    await cog.on_message(back)
    assert "November 18" in first_quote(back.reply.await_args)


async def test_an_idle_conversation_is_forgotten(bot):
    now = [0.0]
    bot.services.asking.conversations.clock = lambda: now[0]
    cog, channel = Ask(bot), channel_in(bot, "mention")
    first = mention(bot, channel, "What is Progress 71?")
    await cog.on_message(first)
    now[0] += bot.settings.chat.conversation_minutes * 60
    late = mention(bot, channel, "When did it dock?", reply_to=first.reply.return_value)
    await cog.on_message(late)
    assert declined(late.reply.await_args)
    assert len(bot.services.asking.conversations) == 1  # only the late question's own, new conversation
