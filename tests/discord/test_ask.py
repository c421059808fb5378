"""/ask and mentions, driven through the cog callbacks with spec'd Discord mocks and the real engine:
what members see, that nothing can ping or restyle, that limits fire, and that the loop never blocks."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import unittest.mock

import discord
import pytest

from bot.config import Settings
from bot.core.engine import Engine
from bot.discord.app import APOLOGY, NO_MENTIONS
from bot.discord.exts.ask import NOT_ENABLED, Ask
from bot.discord.render import fit
from bot.service.limits import RateLimiter
from bot.service.storage import ChatConfig, SQLiteStorage, Storage
from bot.service.text import ELLIPSIS, cut
from tests.helpers import (
    ON_BOTH_STATE_BACKENDS,
    MockBot,
    MockGuild,
    MockInteraction,
    MockMember,
    MockMessage,
    MockTextChannel,
    mentions_launch_date,
)

QUESTION = "When did the Progress MS-10 launch?"
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


def with_limits(settings: Settings, **limits) -> Settings:
    return settings.model_copy(update={"chat": settings.chat.model_copy(update=limits)})


@pytest.fixture
def bot(launch_engine: Engine, state: Storage):
    return MockBot(launch_engine.settings, launch_engine, state)


@pytest.fixture
def guild() -> MockGuild:
    return MockGuild()


@pytest.fixture
def channel(bot: MockBot, guild: MockGuild) -> MockTextChannel:
    channel = MockTextChannel(guild=guild)
    bot.channel_configs[channel.id] = ChatConfig(str(guild.id), enabled=True)
    return channel


def ask_interaction(bot, channel, user=None) -> MockInteraction:
    return MockInteraction(bot, channel=channel, guild=channel.guild, user=user)


def embed_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert len(field.name) <= 256 and len(field.value) <= 1024
    assert len(embed.footer.text or "") <= 2048
    assert len(embed) <= 6000


def shown_text(call) -> str:
    """Every character a member would see in one send/reply call."""
    parts = [str(arg) for arg in call.args]
    parts.append(str(call.kwargs.get("content", "")))
    for embed in [call.kwargs.get("embed"), *call.kwargs.get("embeds", [])]:
        if embed is not None:
            parts.append(json.dumps(embed.to_dict(), ensure_ascii=False))
    return "\n".join(parts)


def assert_safe(call) -> None:
    assert call.kwargs["allowed_mentions"].to_dict() == NO_MENTIONS.to_dict()
    text = shown_text(call)
    assert not PING.search(text), text
    assert not INVISIBLE.search(text.replace("@\u200b", "@")), "invisible or bidi characters shown"
    assert len(call.kwargs.get("content") or (call.args[0] if call.args else "")) <= 2000


def mention(bot: MockBot, channel: MockTextChannel, content: str) -> MockMessage:
    """A member's message in ``channel`` that mentions the bot."""
    return MockMessage(channel=channel, guild=channel.guild, author=MockMember(), mentions=[bot.user], content=content)


async def ask(cog: Ask, interaction: MockInteraction, question: str):
    await cog.ask.callback(cog, interaction, question=question)
    return interaction.followup.send.await_args


@ON_BOTH_STATE_BACKENDS
async def test_ask_defers_then_answers_with_an_embed_within_limits(bot, channel):
    cog, interaction = Ask(bot), ask_interaction(bot, channel)
    order = []
    interaction.response.defer.side_effect = lambda **kwargs: order.append("defer")
    interaction.followup.send.side_effect = lambda *args, **kwargs: order.append("followup")

    call = await ask(cog, interaction, QUESTION)

    assert order == ["defer", "followup"]
    assert interaction.response.defer.await_args.kwargs["ephemeral"] is False
    assert_safe(call)
    embed = call.kwargs["embed"]
    embed_within_limits(embed)
    assert mentions_launch_date(embed.description) and "[1]" in embed.description
    assert embed.fields and embed.fields[0].name.startswith("[1]")
    ids = [item.custom_id for item in call.kwargs["view"].children]
    assert [re.sub(r"\d+$", "N", i) for i in ids] == [
        "launchbot:sources:N",
        "launchbot:vote:up:N",
        "launchbot:vote:down:N",
    ]
    stored = bot.services.storage.get_answer(int(ids[0].rsplit(":", 1)[1]))
    assert stored.answered and stored.sources and mentions_launch_date(stored.sources[0].quote)


@ON_BOTH_STATE_BACKENDS
async def test_a_question_the_articles_do_not_cover_is_declined_plainly_and_logged(bot, channel):
    cog, interaction = Ask(bot), ask_interaction(bot, channel)
    call = await ask(cog, interaction, "What is the best recipe for chocolate cake?")
    embed = call.kwargs["embed"]
    assert "don't cover" in embed.description
    [gap] = bot.services.storage.gaps("discord", str(channel.guild.id), since=0)
    assert not gap.answered and "chocolate cake" in gap.question


async def test_ask_outside_an_enabled_channel_says_how_to_enable(bot, guild):
    interaction = ask_interaction(bot, MockTextChannel(guild=guild))
    call = await ask(Ask(bot), interaction, QUESTION)
    assert interaction.response.defer.await_args.kwargs["ephemeral"] is True
    assert call.kwargs["ephemeral"] is True and call.args[0] == NOT_ENABLED


async def test_user_cooldown_and_guild_rate_limit_fire_with_a_retry_time(bot, channel):
    bot.services.asking.limiter = RateLimiter(user_cooldown=30, guild_per_minute=2)
    cog, member = Ask(bot), MockMember()
    await ask(cog, ask_interaction(bot, channel, member), QUESTION)
    again = ask_interaction(bot, channel, member)
    call = await ask(cog, again, QUESTION)
    assert call.kwargs["ephemeral"] is True
    assert re.search(r"try again in (29|30) s", call.args[0])

    await ask(cog, ask_interaction(bot, channel), QUESTION)  # second member: the guild's 2nd question
    call = await ask(cog, ask_interaction(bot, channel), QUESTION)
    assert re.search(r"try again in (59|60) s", call.args[0])


def test_rate_limiter_counts_time_not_attempts():
    now = [1000.0]
    limiter = RateLimiter(user_cooldown=10, guild_per_minute=3, clock=lambda: now[0])
    assert limiter.acquire(1, 7) == 0
    now[0] += 4
    assert limiter.acquire(1, 7) == pytest.approx(6)
    now[0] += 6
    assert limiter.acquire(1, 7) == 0
    assert limiter.acquire(1, 8) == 0
    assert limiter.acquire(1, 9) == pytest.approx(50)  # guild full: oldest question is 10 s old
    assert limiter.acquire(2, 9) == 0  # another guild is not affected


HOSTILE = {
    "mass mentions": "@everyone @here <@123456789012345678> <@&123456789012345678> when did MS-10 launch?",
    "markdown injection": "**When** did [Progress MS-10](https://evil.example) launch? `x` ||y|| ~~z~~ > q\n# h1",
    "zero-width and RTL": "When\u200b did \u202eProgress MS-10\u202c\u2067 launch\u2069?\ufeff",
}


@pytest.mark.parametrize("question", HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_questions_get_safe_replies(bot, channel, question):
    call = await ask(Ask(bot), ask_interaction(bot, channel), question)
    assert_safe(call)
    embed = call.kwargs["embed"]
    embed_within_limits(embed)
    assert not re.search(r"(?<!\\)\[Progress", embed.title) and "**When**" not in embed.title


async def test_a_10000_character_question_is_refused_with_the_cap_stated(bot, channel):
    interaction = ask_interaction(bot, channel)
    call = await ask(Ask(bot), interaction, ("why " * 2500)[:9999] + "?")
    assert_safe(call)
    assert call.kwargs["ephemeral"] is True
    assert "10,000 characters" in call.args[0] and "limit is 500" in call.args[0]
    assert bot.services.storage.stats("discord", str(channel.guild.id), since=0).asked == 0


async def test_a_mention_in_an_enabled_channel_is_answered_as_a_reply(bot, channel):
    message = mention(bot, channel, f"<@{bot.user.id}> {QUESTION} @everyone")
    await Ask(bot).on_message(message)
    call = message.reply.await_args
    assert_safe(call)
    assert call.kwargs["mention_author"] is False
    assert mentions_launch_date(call.kwargs["embed"].description)


async def test_thread_mode_answers_in_a_new_thread(bot, channel):
    bot.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True, mode="thread")
    message = mention(bot, channel, f"<@!{bot.user.id}> {QUESTION}")
    await Ask(bot).on_message(message)
    assert message.create_thread.await_args.kwargs["name"] == cut(QUESTION, 100)
    thread_send = message.create_thread.return_value.send.await_args
    assert_safe(thread_send)
    message.reply.assert_not_awaited()


async def test_mentions_elsewhere_from_bots_or_without_the_bot_are_ignored(bot, channel, guild):
    ask_cog = Ask(bot)
    for message in (
        MockMessage(channel=MockTextChannel(guild=guild), guild=guild, author=MockMember(), mentions=[bot.user]),
        MockMessage(channel=channel, guild=guild, author=MockMember(bot=True), mentions=[bot.user]),
        MockMessage(channel=channel, guild=guild, author=MockMember(), mentions=[], content=QUESTION),
    ):
        await ask_cog.on_message(message)
        message.reply.assert_not_awaited()


async def test_an_empty_mention_gets_a_hint(bot, channel):
    message = mention(bot, channel, f"<@{bot.user.id}>")
    await Ask(bot).on_message(message)
    assert "/ask" in message.reply.await_args.args[0]


def test_cuts_end_a_sentence_and_never_split_a_citation():
    text = "“The rocket rose at 6:14 a.m.” [1] “It docked two days later.” [2] “Gerst filmed it.” [12]"
    for limit in range(8, len(text) + 1):
        shown = cut(text, limit)
        assert len(shown) <= limit
        if shown != text:
            assert shown.endswith(ELLIPSIS) and not re.search(r"\[\d*$", shown[: -len(ELLIPSIS)])
    assert cut(text, 60) == "“The rocket rose at 6:14 a.m.” [1]" + ELLIPSIS
    heavy = "*_`|~>" * 2000
    assert len(fit(heavy, 1024)) <= 1024


async def test_50_concurrent_questions_are_answered_off_the_event_loop_within_the_worker_limit(
    launch_engine, tmp_path, monkeypatch
):
    """What keeps the event loop free: every answer is computed in a worker thread, never on the loop,
    and no more at once than ``answer_workers``. (How long the loop waited is a benchmark's figure.)"""
    settings = with_limits(launch_engine.settings, user_cooldown_seconds=0, questions_per_minute=0)
    storage = SQLiteStorage(tmp_path / "load.sqlite3")
    bot = MockBot(settings, launch_engine, storage)
    channel = MockTextChannel(guild=MockGuild())
    bot.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True)
    cog = Ask(bot)
    loop_thread = threading.get_ident()
    threads, running, most = [], 0, 0
    lock = threading.Lock()
    real_answer = launch_engine.answer

    def watched_answer(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.append(threading.get_ident())
        try:
            return real_answer(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(launch_engine, "answer", watched_answer)
    questions = [QUESTION, "Who recorded the video?", "What is Progress 71?", "Where was the astronaut?"]
    interactions = [ask_interaction(bot, channel) for _ in range(50)]
    await asyncio.gather(*(cog.ask.callback(cog, i, question=questions[n % 4]) for n, i in enumerate(interactions)))
    storage.close()
    assert all(i.followup.send.await_args.kwargs.get("embed") is not None for i in interactions)
    assert len(threads) == 50 and loop_thread not in threads
    assert 1 <= most <= settings.chat.answer_workers


# --------------------------------------------------------------------------- issue 11: Discord


async def test_a_reply_to_an_answer_is_not_a_question_unless_it_mentions_the_bot(bot, channel):
    member, cog = MockMember(), Ask(bot)
    answer = MockMessage(channel=channel, guild=channel.guild, author=bot.user)
    thanks = MockMessage(
        channel=channel,
        guild=channel.guild,
        author=member,
        mentions=[bot.user],  # a reply pings the author it replies to, so discord.py lists the bot here
        reference=discord.MessageReference(message_id=answer.id, channel_id=channel.id),
        content="thanks, that helped!",
    )
    await cog.on_message(thanks)
    thanks.reply.assert_not_awaited()
    assert bot.services.storage.stats("discord", str(channel.guild.id), since=0).asked == 0

    follow = mention(bot, channel, f"<@{bot.user.id}> {QUESTION}")
    follow.author, follow.reference = member, thanks.reference
    await cog.on_message(follow)  # an explicit mention in a reply is a question; no cooldown was used up
    assert mentions_launch_date(follow.reply.await_args.kwargs["embed"].description)


class Exploding:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def answer(self, question: str, history=None):
        raise RuntimeError("engine exploded")


async def test_after_a_failed_public_ask_only_the_member_sees_the_apology(bot, channel):
    bot.services.asking.engine = Exploding(bot.settings)
    interaction, order = ask_interaction(bot, channel), []
    interaction.delete_original_response.side_effect = lambda: order.append("delete thinking")
    interaction.followup.send.side_effect = lambda *args, **kwargs: order.append(("followup", kwargs["ephemeral"]))
    await Ask(bot).ask.callback(Ask(bot), interaction, question=QUESTION)
    assert interaction.response.defer.await_args.kwargs["ephemeral"] is False  # public "thinking…"
    # A followup of a public deferral would be public whatever its flag: the thinking message goes first.
    assert order == ["delete thinking", ("followup", True)]
    assert interaction.followup.send.await_args.args[0] == APOLOGY


def rejected() -> discord.HTTPException:
    return discord.HTTPException(unittest.mock.MagicMock(status=400, reason="Bad Request"), "Invalid Form Body")


@ON_BOTH_STATE_BACKENDS
async def test_an_answer_discord_rejects_is_not_counted_as_answered(bot, channel):
    interaction = ask_interaction(bot, channel)
    interaction.followup.send.side_effect = [rejected(), None]
    await Ask(bot).ask.callback(Ask(bot), interaction, question=QUESTION)
    message = mention(bot, channel, f"<@{bot.user.id}> Who filmed the launch?")
    message.reply.side_effect = [rejected(), None]
    await Ask(bot).on_message(message)
    stats = bot.services.storage.stats("discord", str(channel.guild.id), since=0)
    assert (stats.asked, stats.answered) == (0, 0)

    delivered = ask_interaction(bot, channel)
    await Ask(bot).ask.callback(Ask(bot), delivered, question="Where was the astronaut?")
    assert bot.services.storage.stats("discord", str(channel.guild.id), since=0).answered == 1


async def test_refusals_are_full_sentences_and_a_cooldown_is_called_a_cooldown(bot, channel):
    empty = mention(bot, channel, f"<@{bot.user.id}>")
    await Ask(bot).on_message(empty)
    assert empty.reply.await_args.args[0] == (
        "Please ask a question: the message was empty. Mention me with your question, or use `/ask`."
    )
    member = MockMember()
    await ask(Ask(bot), ask_interaction(bot, channel, member), QUESTION)
    call = await ask(Ask(bot), ask_interaction(bot, channel, member), QUESTION)
    assert "cooldown" in call.args[0] and "too many questions" not in call.args[0]
    assert re.fullmatch(r"[^.]+\. Please try again in \d+ s\.", call.args[0])


@ON_BOTH_STATE_BACKENDS
async def test_a_declined_answers_sources_show_the_closest_passage_labelled_not_an_answer(bot, channel):
    from bot.core.engine import Answer, Source
    from bot.discord.exts.feedback import SourcesButton
    from bot.discord.render import ANSWERED_COLOUR, CLOSEST_LABEL, DECLINED_COLOUR
    from bot.service.storage import Origin
    from bot.service.text import stored_sources

    closest = Source(1, "doc", "An article", "The ship was launched from Baikonur.", 0, 36, 0.3, context="ctx")
    declined = Answer("How much did it cost?", False, "I don't know.", closest=closest)
    origin = Origin("discord", str(channel.guild.id), str(channel.id), "7")
    storage = bot.services.storage
    question_id = storage.record_question(
        origin, question=declined.question, answered=False, sources=stored_sources(declined)
    )
    interaction = ask_interaction(bot, channel)
    await SourcesButton(question_id).callback(interaction)
    [embed] = interaction.followup.send.await_args.kwargs["embeds"]
    assert embed.title.startswith(CLOSEST_LABEL) and "[1]" not in embed.title
    assert embed.colour == DECLINED_COLOUR != ANSWERED_COLOUR
    assert "Sources for" not in embed.author.name and "Not answered" in embed.author.name
