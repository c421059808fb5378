"""Telegram moderators: /stats as a chart with its figures, /gaps with its answer buttons, and /forget
for every member. The real Application and engine; the Bot API answered by tests/telegram/botapi.py."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from bot.service.charts import COUNTS_KEY
from bot.service.storage import Origin
from tests.helpers import ON_BOTH_STATE_BACKENDS
from tests.telegram.botapi import GROUP_ID, callback, message
from tests.telegram.test_telegram import ADMIN, Harness, _users, assert_safe_html, enable_group, harness_for


@pytest.fixture
async def tg(launch_engine, tmp_path, state):
    harness = await harness_for(launch_engine, tmp_path, state)
    yield harness
    await harness.application.shutdown()


def allow_notes(harness: Harness, group: int = GROUP_ID) -> None:
    """notes.communities lists the group (the service reads it on every command)."""
    settings = harness.services.notes.settings
    notes = settings.notes.model_copy(update={"communities": [f"telegram:{group}"]})
    harness.services.notes.settings = settings.model_copy(update={"notes": notes})


GAP_QUESTIONS = [
    "What was the weather at Baikonur during the launch?",
    "How was the weather at Baikonur on launch day?",
    "लॉन्च के समय बैकोनूर में मौसम कैसा था?",
    "How much did the mission cost?",
    "इस मिशन की लागत कितनी थी?",
    "How do I bake a chocolate cake?",
]


@ON_BOTH_STATE_BACKENDS
async def test_stats_is_a_chart_with_the_figures_as_its_caption(tg):
    await enable_group(tg)
    await tg.send(message("/ask When did the Progress MS-10 launch?", chat_id=GROUP_ID, user_id=next(_users)))
    await tg.send(message("/ask How do I bake a chocolate cake?", chat_id=GROUP_ID, user_id=next(_users)))
    [photo] = [c for c in await tg.send(message("/stats", chat_id=GROUP_ID, user_id=ADMIN)) if c.method == "sendPhoto"]
    assert "Asked 2 · answered 1 · declined 1" in photo.params["caption"] and len(photo.params["caption"]) <= 1024
    assert_safe_html(photo.params["caption"])
    [png] = photo.files.values()
    image = Image.open(io.BytesIO(png))
    counts = json.loads(image.text[COUNTS_KEY])
    assert image.format == "PNG" and sum(counts["answered"]) == 1 and sum(counts["declined"]) == 1
    assert counts["answered"][-1] == 1  # asked today: the last bar


async def test_gaps_lists_topics_and_answer_buttons_only_where_notes_are_allowed(launch_engine, tmp_path, state):
    for member, question in enumerate(GAP_QUESTIONS):
        state.record_question(
            Origin("telegram", str(GROUP_ID), str(GROUP_ID), str(member)), question=question, answered=False
        )
    harness = await harness_for(launch_engine, tmp_path, state)
    try:
        harness.api.admins.add((GROUP_ID, ADMIN))
        calls = await harness.send(message("/gaps 7", chat_id=GROUP_ID, user_id=ADMIN))
        [sent] = [c for c in calls if c.method == "sendMessage"]
        text = assert_safe_html(sent.params["text"]).text
        assert "6 question(s) from 6 people" in text and "Too few" not in text
        assert "3 people (new)" in text and "मौसम" in text  # the weather, in English and Hindi, one topic
        assert "notes.communities" in text and "reply_markup" not in sent.params  # not listed: no ✍️ buttons

        allow_notes(harness)
        [sent] = [
            c
            for c in await harness.send(message("/gaps", chat_id=GROUP_ID, user_id=ADMIN))
            if c.method == "sendMessage"
        ]
        buttons = sent.params["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons][:2] == ["✍️ 1", "✍️ 2"]
        assert all(b["callback_data"].startswith("gap:") for b in buttons)

        member = next(_users)
        assert await harness.replies(message("/gaps", chat_id=GROUP_ID, user_id=member)) == [
            "Only this group's admins can use this command."
        ]
        pressed = await harness.send(callback(buttons[0]["callback_data"], user_id=member, chat_id=GROUP_ID))
        assert [c.params.get("text") for c in pressed if c.method == "answerCallbackQuery"] == [
            "Only this group's admins can use this command."
        ]
    finally:
        await harness.application.shutdown()


@ON_BOTH_STATE_BACKENDS
async def test_forget_deletes_a_members_questions_and_votes(tg):
    await enable_group(tg)
    member, other = next(_users), next(_users)
    await tg.send(message("/ask When did the Progress MS-10 launch?", chat_id=GROUP_ID, user_id=member))
    await tg.send(message("/ask Who filmed the launch from space?", chat_id=GROUP_ID, user_id=other))
    await tg.send(callback("vote:2:up", user_id=member, chat_id=GROUP_ID))  # a 👍 on the other's answer
    assert tg.services.storage.votes(2) == (1, 0)
    [reply] = await tg.replies(message("/forget", chat_id=GROUP_ID, user_id=member))
    assert reply.startswith("Done: 1 question(s) you asked and 1 vote(s) you gave are deleted.")
    stats = tg.services.storage.stats("telegram", str(GROUP_ID), since=0)
    assert (stats.asked, stats.up) == (1, 0)  # the other member's question stays; the vote went


async def test_an_admin_answers_a_gap_by_replying_and_the_note_answers_in_the_group(engine, tmp_path, state):
    """/gaps → ✍️ 1 → a reply prompt (only the admin asked to reply) → the admin's reply becomes a
    moderator note; the same questions are then answered in the group quoting it, with the admin's
    name. /note list and /note remove manage it; a member cannot."""
    for member, question in enumerate(GAP_QUESTIONS):
        state.record_question(
            Origin("telegram", str(GROUP_ID), str(GROUP_ID), str(member)), question=question, answered=False
        )
    tg = await harness_for(engine, tmp_path, state, user_cooldown_seconds=0)
    try:
        await enable_group(tg)
        allow_notes(tg)
        gaps = message("/gaps", chat_id=GROUP_ID, user_id=ADMIN)
        [listing] = [c for c in await tg.send(gaps) if c.method == "sendMessage"]
        button = listing.params["reply_markup"]["inline_keyboard"][0][0]
        listed = listing.result | {"reply_to_message": gaps["message"]}  # as Telegram shows the bot's reply
        pressed = callback(button["callback_data"], user_id=ADMIN, chat_id=GROUP_ID)
        pressed["callback_query"]["message"] = listed
        [prompt] = [c for c in await tg.send(pressed) if c.method == "sendMessage"]
        assert prompt.params["text"].startswith("✍️ Gap #") and "मौसम" in prompt.params["text"]
        assert prompt.params["reply_markup"]["selective"] and prompt.params["reply_markup"]["force_reply"]

        answer = "The weather at Baikonur on launch day was clear and cold, about −5 °C, with a light wind."
        reply = message(answer, chat_id=GROUP_ID, user_id=ADMIN, reply_to=prompt.result)
        reply["message"]["from"]["first_name"] = "Ravi"
        [confirmation] = await tg.replies(reply)
        assert_safe_html(confirmation)
        assert "Moderator note 1" in confirmation and "Moderator note by Ravi, " in confirmation
        assert confirmation.count("now answered, quoting the note") == 3

        member = next(_users)
        for question in ("What was the weather at Baikonur during the launch?", "लॉन्च के समय बैकोनूर में मौसम कैसा था?"):
            [answered] = await tg.replies(message(f"/ask {question}", chat_id=GROUP_ID, user_id=member))
            assert f"“{answer}”" in answered and "[1] Moderator note by Ravi, " in answered
        [declined] = await tg.replies(message("/ask How do I bake a chocolate cake?", chat_id=GROUP_ID, user_id=member))
        assert "Moderator note" not in declined

        assert await tg.replies(message("/note list", chat_id=GROUP_ID, user_id=member)) == [
            "Only this group's admins can use this command."
        ]
        [notes] = await tg.replies(message("/note list", chat_id=GROUP_ID, user_id=ADMIN))
        assert "<b>1</b> Moderator note by Ravi" in notes
        added = await tg.replies(
            message("/note add How tall is the Soyuz? | About 46 metres.", chat_id=GROUP_ID, user_id=ADMIN)
        )
        assert "Moderator note 2" in added[0]
        assert await tg.replies(message("/note remove 1", chat_id=GROUP_ID, user_id=ADMIN)) == [
            "Removed note 1: it no longer answers."
        ]
        assert await tg.replies(message("/note remove 1", chat_id=GROUP_ID, user_id=ADMIN)) == [
            "There is no note '1' (notes: 2)."
        ]
    finally:
        await tg.application.shutdown()
