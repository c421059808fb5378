"""Two Telegram processes on one state database, as webhook mode runs them behind a load balancer
(README, "Several machines"): any update may reach either, and they answer as one bot. A group
enabled through one is answered by the other (within ``chat.reload_check_seconds``), a reply to an
answer one posted continues its conversation in the other, and a member's votes count once. On
SQLite (two connections to one file) and on the real PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from bot.service.pgstorage import open_state
from tests.helpers import ON_BOTH_STATE_BACKENDS
from tests.telegram.botapi import BOT_USERNAME, GROUP_ID, callback, message
from tests.telegram.test_conversations import ask
from tests.telegram.test_telegram import enable_group, harness_for

pytestmark = ON_BOTH_STATE_BACKENDS


@pytest.fixture
async def pair(launch_engine, tmp_path, state, state_settings):
    first = await harness_for(launch_engine, tmp_path, state, user_cooldown_seconds=0)
    second = await harness_for(launch_engine, tmp_path, open_state(state_settings), user_cooldown_seconds=0)
    second.api._message_ids = itertools.count(7000)  # Telegram numbers the messages, whichever process sent them
    yield first, second
    for harness in (first, second):
        await harness.application.shutdown()
    second.services.storage.close()


def moved_clock(harness) -> list[float]:
    """The handlers' clock, which the test then moves."""
    handlers = harness.application.bot_data["handlers"]
    now = [handlers.clock()]
    handlers.clock = lambda: now[0]
    return now


async def test_two_processes_answer_a_group_as_one_bot(pair):
    first, second = pair
    now = moved_clock(second)
    mention = f"@{BOT_USERNAME} What is Progress 71?"
    assert await second.send(message(mention, chat_id=GROUP_ID, user_id=9101)) == []  # not enabled yet
    await enable_group(first)
    assert await second.send(message(mention, chat_id=GROUP_ID, user_id=9102)) == []  # its settings are fresh
    now[0] += second.services.settings.chat.reload_check_seconds
    text, answer = await ask(second, mention, chat_id=GROUP_ID)
    assert "Progress 71" in text.split("”")[0]

    # The reply reaches the other process, which continues the conversation the first answer began.
    text, follow_up = await ask(first, "When did it dock?", chat_id=GROUP_ID, reply_to=answer)
    assert "November 18" in text.split("”")[0]
    text, _ = await ask(second, "And where was it launched from?", chat_id=GROUP_ID, reply_to=follow_up)
    assert "Baikonur" in text.split("”")[0]

    # One member voting through both processes: one vote, the last.
    [posted] = [call for call in second.api.sent() if call.result["message_id"] == answer["message_id"]]
    question_id = int(posted.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"].split(":")[1])
    await first.send(callback(f"vote:{question_id}:up", user_id=9103, chat_id=GROUP_ID))
    await second.send(callback(f"vote:{question_id}:down", user_id=9103, chat_id=GROUP_ID))
    assert first.services.storage.votes(question_id) == second.services.storage.votes(question_id) == (0, 1)
    stats = first.services.storage.stats("telegram", str(GROUP_ID), since=0)
    assert (stats.asked, stats.answered) == (3, 3)
