"""Follow-up questions on Telegram, through the real Application and a recording Bot API: a reply to
one of the bot's answers continues that answer's conversation; anything else starts afresh. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import ON_BOTH_STATE_BACKENDS
from tests.telegram.botapi import BOT_USERNAME, GROUP_ID, message
from tests.telegram.test_telegram import enable_group, harness_for

_members = itertools.count(9000)


pytestmark = ON_BOTH_STATE_BACKENDS


@pytest.fixture
async def tg(launch_engine, tmp_path, state):
    harness = await harness_for(launch_engine, tmp_path, state, user_cooldown_seconds=0)
    yield harness
    await harness.application.shutdown()
    harness.services.storage.close()


async def ask(tg, text: str, *, chat_id: int, reply_to: dict | None = None) -> tuple[str, dict]:
    """The bot's answer to one message: its text, and the message as a reply would quote it."""
    [call] = [
        c
        for c in await tg.send(message(text, chat_id=chat_id, user_id=next(_members), reply_to=reply_to))
        if c.method == "sendMessage"
    ]
    return call.params["text"], call.result


async def test_a_reply_to_an_answer_continues_its_conversation_in_a_group(tg):
    await enable_group(tg)
    _, first = await ask(tg, f"@{BOT_USERNAME} What is Progress 71?", chat_id=GROUP_ID)
    text, second = await ask(tg, "When did it dock?", chat_id=GROUP_ID, reply_to=first)
    assert "November 18" in text.split("”")[0]
    text, _ = await ask(tg, "And where was it launched from?", chat_id=GROUP_ID, reply_to=second)
    assert "Baikonur" in text.split("”")[0]
    # A fresh mention is a new conversation: "it" is about nothing.
    text, _ = await ask(tg, f"@{BOT_USERNAME} When did it dock?", chat_id=GROUP_ID)
    assert "don't cover" in text


async def test_a_topic_switch_in_a_private_reply_chain_is_declined(tg):
    member = next(_members)
    _, first = await ask(tg, "What is Progress 71?", chat_id=member)
    text, switch = await ask(tg, "What is the capital of Australia?", chat_id=member, reply_to=first)
    assert "don't cover" in text
    # The declined turn lends nothing; "it" is still Progress 71.
    text, _ = await ask(tg, "When did it dock?", chat_id=member, reply_to=switch)
    assert "November 18" in text.split("”")[0]
