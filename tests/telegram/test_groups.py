"""Busy groups, through the real ``Application`` and a recording Bot API that refuses what Telegram
would refuse (20 messages a minute into a group): a flood gets one notice, many members asking at
once all get their answers within the limit with the notices after them, only replies that read as
questions are answered, other members' mentions are removed, and the small things a member sees."""

from __future__ import annotations

import itertools
import logging

import pytest

from bot.service.limits import BUSY, COOLDOWN
from bot.service.outbox import Outbox
from bot.telegram.handlers import DISABLED, NOT_ENABLED, SEEN, UNKNOWN_BUTTON
from tests.helpers import mentions_launch_date
from tests.telegram.botapi import BOT_USERNAME, GROUP_ID, bot_message, callback, message
from tests.telegram.test_telegram import ADMIN, QUESTION, enable_group, harness_for

_members = itertools.count(20_000)
QUESTIONS = [QUESTION, "Who filmed the launch?", "What is Progress 71?", "Where was the rocket launched from?"]
WINDOW = 0.5  # Telegram's minute, shortened: the test is about order and counts, not about waiting


class Remembering:
    """The real engine, answering each distinct question once: these tests are about sending."""

    def __init__(self, engine) -> None:
        self.engine, self.settings, self.answers = engine, engine.settings, {}

    def answer(self, question, history=None):
        if question not in self.answers:
            self.answers[question] = self.engine.answer(question, history)
        return self.answers[question]


@pytest.fixture(scope="module")
def remembering(launch_engine) -> Remembering:
    engine = Remembering(launch_engine)
    for question in QUESTIONS:
        engine.answer(question)
    return engine


@pytest.fixture
async def tg(launch_engine, tmp_path):
    harness = await harness_for(launch_engine, tmp_path)
    yield harness
    await harness.application.shutdown()
    harness.services.storage.close()


def handlers(tg):
    return tg.application.bot_data["handlers"]


def mention(text: str, member: int, **kwargs) -> dict:
    return message(f"@{BOT_USERNAME} {text}".strip(), chat_id=GROUP_ID, user_id=member, **kwargs)


def most_in_any_window(calls, seconds: float) -> int:
    times = sorted(call.at for call in calls)
    return max((sum(1 for t in times if start <= t < start + seconds) for start in times), default=0)


def bot_messages(calls, chat_id: int) -> list:
    """What members see from the bot in a chat: messages and reactions (not "typing…")."""
    kinds = {"sendMessage", "sendDocument", "setMessageReaction"}
    return [c for c in calls if c.method in kinds and c.result is not None and int(c.params["chat_id"]) == chat_id]


# --------------------------------------------------------------------------- floods


async def test_a_100_message_private_flood_gets_one_answer_and_one_notice(tg):
    member = next(_members)
    calls = await tg.send_all([message(QUESTION, chat_id=member, user_id=member) for _ in range(100)])
    sent = bot_messages(calls, member)
    assert len(sent) == 2
    [answer] = [c for c in sent if mentions_launch_date(c.params["text"])]
    [notice] = [c for c in sent if c is not answer]
    assert "cooldown" in notice.params["text"]
    assert tg.services.storage.stats("telegram", None, since=0).asked == 1
    assert tg.services.asking.held_back_in("telegram", None) == {COOLDOWN: 98}  # dropped quietly, counted


async def test_a_100_mention_group_flood_gets_one_answer_and_one_reaction(tg):
    await enable_group(tg)
    member = next(_members)
    calls = await tg.send_all([mention(QUESTION, member) for _ in range(100)])
    sent = bot_messages(calls, GROUP_ID)
    assert len(sent) == 2
    assert [c.method for c in sent if c.method == "sendMessage"] == ["sendMessage"]
    [reaction] = [c for c in sent if c.method == "setMessageReaction"]
    assert reaction.params["reaction"] == [{"type": "emoji", "emoji": SEEN}]  # no public reply
    assert len([c for c in calls if c.method == "sendChatAction"]) == 1


async def test_30_members_asking_at_once_all_get_answers_within_telegrams_limit_before_any_notice(
    remembering, tmp_path
):
    """A group allowed 30 questions a minute (above Telegram's 20 messages a minute): the first 20
    answers go at once, the other 10 when the window frees; notices wait behind every accepted
    question's place, so none takes an answer's, and reactions (not messages) go at once."""
    tg = await harness_for(remembering, tmp_path, questions_per_minute=30)
    try:
        handlers(tg).outbox = Outbox(lambda chat: 20 if chat < 0 else None, period=WINDOW)
        tg.api.group_limit = (20, WINDOW)
        await enable_group(tg)
        members = [next(_members) for _ in range(30)]
        questions = [mention(QUESTIONS[n % 4], member) for n, member in enumerate(members)]
        repeats = [mention(QUESTIONS[0], member) for member in members[:10] for _ in range(3)]
        empty = mention("", next(_members))  # a hint is a message: it must not take an answer's place
        calls = await tg.send_all([*questions, *repeats, empty])

        assert tg.api.refused == []  # Telegram never had to say "too many requests"
        group = [c for c in tg.api.sent("sendMessage", GROUP_ID)]
        assert most_in_any_window(group, WINDOW) <= 20
        sent = [c for c in calls if c in group]
        asked = {q["message"]["message_id"]: q for q in questions}
        answers = [c for c in sent if c.params.get("reply_parameters", {}).get("message_id") in asked]
        assert sorted(c.params["reply_parameters"]["message_id"] for c in answers) == sorted(asked)  # each once
        assert all("don't cover" not in c.params["text"] for c in answers)
        assert len(sent) == 31 and "Please ask a question" in sent[-1].params["text"]  # the notice came last
        reactions = [c for c in calls if c.method == "setMessageReaction"]
        assert len(reactions) == 10  # one per member asking again, whatever the queue held
        assert tg.services.asking.held_back_in("telegram", str(GROUP_ID)) == {COOLDOWN: 20}
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()


async def test_a_group_over_its_quota_hears_once_and_stays_within_telegrams_minute(remembering, tmp_path):
    tg = await harness_for(remembering, tmp_path)
    try:
        quota = tg.services.settings.chat.questions_per_minute
        assert quota < tg.services.settings.telegram.group_messages_per_minute  # room for splits and notices
        tg.api.group_limit = (20, 60)
        await enable_group(tg)
        members = [next(_members) for _ in range(30)]
        calls = await tg.send_all([mention(QUESTIONS[n % 4], m) for n, m in enumerate(members)])
        sent = [c for c in calls if c.method == "sendMessage" and c.result is not None]
        busy = [c for c in sent if "Lots of questions" in c.params["text"]]
        assert len(busy) == 1 and len(sent) == quota + 1 <= 20
        assert tg.api.refused == []
        assert tg.services.asking.held_back_in("telegram", str(GROUP_ID)) == {BUSY: 30 - quota - 1}
        [stats] = await tg.replies(message("/stats", chat_id=GROUP_ID, user_id=ADMIN))
        assert f"Dropped quietly since the bot started (one notice each window): {30 - quota - 1}" in stats
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()


# --------------------------------------------------------------------------- what is a question


async def test_a_thanks_reply_is_ignored_and_a_reply_that_reads_as_a_question_is_answered(tg):
    await enable_group(tg)
    for text in ("thanks, that helped!", "thanks!", "👍", "ok cool"):
        update = message(text, chat_id=GROUP_ID, user_id=next(_members), reply_to=bot_message(GROUP_ID))
        assert await tg.send(update) == []
    stats = tg.services.storage.stats("telegram", str(GROUP_ID), since=0)
    assert stats.asked == 0 and tg.services.storage.gaps("telegram", str(GROUP_ID), since=0) == []

    for text in ("where was the rocket launched from", "रॉकेट कहाँ से लॉन्च हुआ"):
        update = message(text, chat_id=GROUP_ID, user_id=next(_members), reply_to=bot_message(GROUP_ID))
        [answer] = await tg.replies(update)
        assert "Baikonur" in answer or "बैकोनूर" in answer, (text, answer)
    # Two words read as a question too, and are answered (which sentence: README, "Known misses")
    update = message("Launch site?", chat_id=GROUP_ID, user_id=next(_members), reply_to=bot_message(GROUP_ID))
    [answer] = await tg.replies(update)
    assert answer.startswith("“") and "Sources" in answer
    assert tg.services.storage.stats("telegram", str(GROUP_ID), since=0).asked == 3


async def test_other_members_mentions_are_removed_before_answering(tg):
    await enable_group(tg)
    named = "@bob_b @carol_admin where was Progress MS-10 launched from?"
    reply = message(named, chat_id=GROUP_ID, user_id=next(_members), reply_to=bot_message(GROUP_ID))
    [answer] = await tg.replies(reply)
    assert "Baikonur" in answer
    unnamed = f"@{BOT_USERNAME} Carol Smith where was Progress MS-10 launched from?"
    update = message(unnamed, chat_id=GROUP_ID, user_id=next(_members), text_mentions={"Carol Smith": 31337})
    [answer] = await tg.replies(update)
    assert "Baikonur" in answer
    questions = [q for q, _ in tg.services.storage.stats("telegram", str(GROUP_ID), since=0).top]
    assert questions == ["where was Progress MS-10 launched from?"]  # stored as asked, without the names


# --------------------------------------------------------------------------- the small things


async def test_an_unknown_button_gets_a_short_toast(tg):
    [answered] = await tg.send(callback("poll:42:yes", user_id=next(_members), chat_id=GROUP_ID))
    assert answered.method == "answerCallbackQuery" and answered.params["text"] == UNKNOWN_BUTTON


async def test_a_member_who_blocked_the_bot_is_one_info_line_and_nothing_sent(tg, caplog):
    member = next(_members)
    tg.api.blocked.add(member)
    with caplog.at_level(logging.INFO, logger="bot.telegram"):
        calls = await tg.send(message(QUESTION, chat_id=member, user_id=member))
    assert [c.result for c in calls] == [None]  # the "typing…" Telegram refused, then nothing more
    lines = [r for r in caplog.records if r.name.startswith("bot.telegram")]
    assert [(r.levelname, "blocked" in r.getMessage()) for r in lines] == [("INFO", True)]
    assert lines[0].exc_info is None


async def test_after_disable_the_bot_says_it_is_not_enabled_without_yet(tg):
    member = next(_members)
    assert await tg.replies(message(f"/ask {QUESTION}", chat_id=GROUP_ID, user_id=member)) == [NOT_ENABLED]
    await enable_group(tg)
    assert "Disabled" in (await tg.replies(message("/disable", chat_id=GROUP_ID, user_id=ADMIN)))[0]
    assert await tg.replies(message(f"/ask {QUESTION}", chat_id=GROUP_ID, user_id=next(_members))) == [DISABLED]
    assert "yet" not in DISABLED


async def test_the_sources_view_names_its_question_and_a_decline_has_no_votes(tg):
    member = next(_members)
    calls = await tg.send(message(QUESTION, chat_id=member, user_id=member))
    [answer] = [c for c in calls if c.method == "sendMessage"]
    question_id = answer.params["reply_markup"]["inline_keyboard"][0][0]["url"].rsplit("_", 1)[1]
    [view] = await tg.replies(message(f"/start src_{question_id}", chat_id=member, user_id=member))
    assert view.startswith(f"<b>Sources for:</b> {QUESTION}")

    other = next(_members)
    cake = "What is the best recipe for chocolate cake?"
    [declined] = [c for c in await tg.send(message(cake, chat_id=other, user_id=other)) if c.method == "sendMessage"]
    buttons = [b for row in declined.params.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
    assert not any("callback_data" in b for b in buttons)  # no 👍/👎 under "I don't know"
    if buttons:  # the closest passage, labelled not an answer
        [sources] = buttons
        [view] = await tg.replies(
            message(f"/start src_{sources['url'].rsplit('_', 1)[1]}", chat_id=other, user_id=other)
        )
        assert view.startswith(f"<b>Not answered:</b> {cake}") and "not an answer" in view


async def test_typing_shows_once_for_a_burst_in_one_chat(tg):
    await enable_group(tg)
    members = [next(_members) for _ in range(5)]
    calls = await tg.send_all([mention(QUESTIONS[n % 4], m) for n, m in enumerate(members)])
    assert [c.params["action"] for c in calls if c.method == "sendChatAction"] == ["typing"]
    assert len([c for c in calls if c.method == "sendMessage"]) == 5
