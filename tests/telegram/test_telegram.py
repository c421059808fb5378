"""The Telegram bot end to end: the real python-telegram-bot ``Application`` fed Update JSON as
Telegram sends it, its Bot API calls answered by a recording ``BaseRequest`` (tests/telegram/botapi.py),
the real engine answering from the launch articles. What reads or writes the state database runs on SQLite and
on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import socket
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from telegram import Update

import bot.cli.main
import bot.telegram.app
from bot.core.engine import Answer, Engine, Source
from bot.service.runtime import Services
from bot.service.storage import SQLiteStorage, Storage
from bot.telegram.app import build_application, prepare
from bot.telegram.handlers import GROUP_ONLY, NO_ANSWER_TITLE, NOT_ADMIN, NOT_ENABLED, NOT_MAINTAINER
from bot.telegram.render import MESSAGE_LIMIT
from tests.helpers import ON_BOTH_STATE_BACKENDS, make_settings, mentions_launch_date
from tests.telegram.botapi import (
    BOT_ID,
    BOT_USERNAME,
    GROUP_ID,
    TOKEN,
    BotAPI,
    bot_message,
    callback,
    inline_query,
    message,
)

QUESTION = "When did the Progress MS-10 launch?"
TEXTS = {"sendMessage", "sendPhoto"}
MAINTAINER, ADMIN = 11, 22
_users = iter(range(1000, 10**6))


class Harness:
    def __init__(self, application, api: BotAPI, services: Services) -> None:
        self.application, self.api, self.services = application, api, services

    async def send(self, update: dict) -> list:
        """Process one update; the Bot API calls it caused."""
        before = len(self.api.calls)
        await self.application.process_update(Update.de_json(update, self.application.bot))
        return self.api.calls[before:]

    async def send_all(self, updates: list[dict]) -> list:
        """Process updates at once, as they arrive when many members talk; the Bot API calls caused."""
        before = len(self.api.calls)
        bot = self.application.bot
        await asyncio.gather(*(self.application.process_update(Update.de_json(u, bot)) for u in updates))
        return self.api.calls[before:]

    async def replies(self, update: dict) -> list[str]:
        """The text of every message the update caused (a photo's caption for a photo)."""
        calls = await self.send(update)
        return [
            c.params["text"] if c.method == "sendMessage" else c.params["caption"] for c in calls if c.method in TEXTS
        ]


def with_telegram(settings):
    return settings.model_copy(update={"telegram": settings.telegram.model_copy(update={"maintainers": [MAINTAINER]})})


async def harness_for(engine, tmp_path: Path, state: Storage | None = None, **chat):
    """The Telegram application on ``state`` (default: a SQLite file under ``tmp_path``)."""
    settings = with_telegram(engine.settings)
    if chat:
        settings = settings.model_copy(update={"chat": settings.chat.model_copy(update=chat)})
    storage = state if state is not None else SQLiteStorage(tmp_path / "bot.sqlite3")
    services = Services(settings, engine, storage)
    api = BotAPI()
    application = build_application(services, TOKEN, request=api)
    await application.initialize()
    await prepare(application)
    return Harness(application, api, services)


@pytest.fixture
async def tg(launch_engine, tmp_path, state):
    harness = await harness_for(launch_engine, tmp_path, state)
    yield harness
    await harness.application.shutdown()
    harness.services.storage.close()


async def enable_group(tg: Harness) -> None:
    tg.api.admins.add((GROUP_ID, ADMIN))
    assert "Enabled" in (await tg.replies(message("/enable", chat_id=GROUP_ID, user_id=ADMIN)))[0]


class Tags(HTMLParser):
    """Every tag in a message, to check that only the bot's own markup is markup."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.open: list[str] = []
        self.text = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        self.text += data


def assert_safe_html(text: str) -> Tags:
    parsed = Tags(text)
    assert not parsed.open, "unclosed tags"
    for tag, attrs in parsed.tags:
        assert tag in {"b", "i", "a"}, tag
        assert tag != "a" or re.match(r"https?://", attrs["href"])
    assert len(text) <= MESSAGE_LIMIT
    assert not re.search(r"@\w", parsed.text), "an @name could notify someone"
    return parsed


# --------------------------------------------------------------------------- asking


@ON_BOTH_STATE_BACKENDS
async def test_a_private_question_is_answered_in_html_with_sources_and_buttons(tg):
    member = next(_users)
    [call] = (await tg.send(message(QUESTION, chat_id=member, user_id=member)))[-1:]
    assert call.method == "sendMessage" and call.params["chat_id"] == member
    assert call.params["parse_mode"] == "HTML" and call.params["link_preview_options"] == {"is_disabled": True}
    shown = assert_safe_html(call.params["text"])
    assert mentions_launch_date(shown.text) and "[1]" in shown.text and "Sources" in shown.text
    [buttons] = call.params["reply_markup"]["inline_keyboard"]
    assert tg.services.storage.stats("telegram", None, since=0).answered == 1  # delivered, so counted
    link = buttons[0]["url"]
    assert re.fullmatch(rf"https://t\.me/{BOT_USERNAME}\?start=src_\d+", link)
    assert [b["text"] for b in buttons[1:]] == ["👍", "👎"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons[1:])
    # "typing…" while the answer is made, once, before it
    assert [(c.method, c.params.get("action")) for c in tg.api.calls if c.params.get("chat_id") == member] == [
        ("sendChatAction", "typing"),
        ("sendMessage", None),
    ]


@ON_BOTH_STATE_BACKENDS
async def test_a_group_mention_and_a_reply_to_an_answer_are_answered_in_their_topic(tg):
    await enable_group(tg)
    member = next(_users)
    asked = message(f"@{BOT_USERNAME} {QUESTION}", chat_id=GROUP_ID, user_id=member, topic=77)
    [call] = [c for c in await tg.send(asked) if c.method == "sendMessage"]
    assert call.params["chat_id"] == GROUP_ID and call.params["message_thread_id"] == 77
    assert call.params["reply_parameters"]["message_id"] == asked["message"]["message_id"]
    assert mentions_launch_date(call.params["text"])

    reply = message(
        "Where was the rocket launched from?", chat_id=GROUP_ID, user_id=next(_users), reply_to=bot_message(GROUP_ID)
    )
    [text] = await tg.replies(reply)
    assert "Baikonur" in text
    stats = tg.services.storage.stats("telegram", str(GROUP_ID), since=0)
    assert (stats.asked, stats.answered) == (2, 2)


async def test_group_messages_not_addressed_to_the_bot_get_no_reply(tg):
    await enable_group(tg)
    member = next(_users)
    for update in (
        message(QUESTION, chat_id=GROUP_ID, user_id=member),
        message("@someone_else when did it launch?", chat_id=GROUP_ID, user_id=member),
        message(
            "nice",
            chat_id=GROUP_ID,
            user_id=member,
            reply_to={**bot_message(GROUP_ID), "from": {"id": 5, "is_bot": False, "first_name": "A"}},
        ),
    ):
        assert await tg.send(update) == []
    assert tg.services.storage.stats("telegram", str(GROUP_ID), since=0).asked == 0


@ON_BOTH_STATE_BACKENDS
async def test_a_group_answers_only_once_an_admin_enabled_it(tg):
    member = next(_users)
    assert await tg.send(message(f"@{BOT_USERNAME} {QUESTION}", chat_id=GROUP_ID, user_id=member)) == []
    assert await tg.replies(message(f"/ask {QUESTION}", chat_id=GROUP_ID, user_id=member)) == [NOT_ENABLED]
    await enable_group(tg)
    [text] = await tg.replies(message(f"/ask@{BOT_USERNAME} {QUESTION}", chat_id=GROUP_ID, user_id=member))
    assert mentions_launch_date(text)
    assert await tg.send(message(f"/ask@other_bot {QUESTION}", chat_id=GROUP_ID, user_id=next(_users))) == []


async def test_inline_mode_offers_the_quoted_answer_and_declines_plainly(tg):
    [call] = await tg.send(inline_query(QUESTION, user_id=next(_users)))
    assert call.method == "answerInlineQuery"
    [result] = call.params["results"]
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML" and content["link_preview_options"] == {"is_disabled": True}
    assert mentions_launch_date(result["title"] + content["message_text"])
    assert_safe_html(content["message_text"])

    [declined] = await tg.send(inline_query("What is the best recipe for chocolate cake?", user_id=next(_users)))
    assert declined.params["results"][0]["title"] == NO_ANSWER_TITLE
    [empty] = await tg.send(inline_query("   ", user_id=next(_users)))
    assert empty.params["results"] == []


@ON_BOTH_STATE_BACKENDS
async def test_sources_open_in_private_and_a_second_vote_replaces_the_first(tg):
    member = next(_users)
    [call] = [c for c in await tg.send(message(QUESTION, chat_id=member, user_id=member)) if c.method == "sendMessage"]
    sources, up, down = call.params["reply_markup"]["inline_keyboard"][0]
    question_id = int(sources["url"].rsplit("_", 1)[1])

    [passages] = await tg.replies(message(f"/start src_{question_id}", chat_id=member, user_id=member))
    shown = assert_safe_html(passages)
    assert mentions_launch_date(shown.text) and ("b", {}) in Tags(passages).tags

    voter = next(_users)
    for button in (up, down):
        [answered] = await tg.send(callback(button["callback_data"], user_id=voter, chat_id=member))
        assert answered.method == "answerCallbackQuery" and "recorded" in answered.params["text"]
    assert tg.services.storage.votes(question_id) == (0, 1)
    [gone] = await tg.send(callback("vote:999999:up", user_id=voter, chat_id=member))
    assert "can't find" in gone.params["text"]


async def test_a_member_on_cooldown_is_told_so_with_a_retry_time(tg):
    member = next(_users)
    await tg.send(message(QUESTION, chat_id=member, user_id=member))
    [text] = await tg.replies(message("Who filmed the launch?", chat_id=member, user_id=member))
    assert "cooldown" in text and re.search(r"try again in (9|10) s\.", text)
    assert tg.services.storage.stats("telegram", None, since=0).asked == 1


HOSTILE = '<b>bold</b> <a href="tg://user?id=1">x</a> &amp; @everyone <script>When did Progress MS-10 launch?'


async def test_html_in_questions_and_articles_is_shown_as_text(embedder, tmp_path):
    settings = make_settings(tmp_path)
    (settings.knowledge_dir / "markup.md").write_text(
        "---\ntitle: <b>Crew</b> & <i>notes</i>\nurl: javascript:alert(1)\n---\n"
        "The <b>Zvezda</b> hatch & the <a href='tg://user?id=1'>crew</a> log @everyone were closed on 20 November.\n",
        encoding="utf-8",
    )
    engine = Engine(settings, embedder)
    engine.open()
    tg = await harness_for(engine, tmp_path)
    try:
        member = next(_users)
        [text] = await tg.replies(message("When was the <b>Zvezda</b> hatch closed?", chat_id=member, user_id=member))
        shown = assert_safe_html(text)
        assert "The <b>Zvezda</b> hatch & the <a href='tg://user?id=1'>crew</a>" in shown.text
        assert "&lt;b&gt;Crew&lt;/b&gt; &amp; &lt;i&gt;notes" in text  # the title, escaped; no javascript: link
        [inline] = await tg.send(inline_query(HOSTILE, user_id=next(_users)))
        shown = assert_safe_html(inline.params["results"][0]["input_message_content"]["message_text"])
        assert HOSTILE.replace("&amp;", "&")[:40] in shown.text.replace("@\u200b", "@")
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()


class LongAnswers:
    """An engine that answers every question at length: this test is about splitting, not answering."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def answer(self, question, history=None):
        text = " ".join(f"“Sentence {n} of a long passage about the <launch> & its crew.” [1]" for n in range(150))
        source = Source(1, "doc", "A long article", "Sentence 1.", 0, 11, 0.9, url="https://example.org/a")
        return Answer(question, True, text, [source], confidence=0.9)


async def test_an_answer_over_4096_characters_is_split_at_sentence_ends(launch_engine, tmp_path):
    tg = await harness_for(LongAnswers(launch_engine.settings), tmp_path)
    try:
        member = next(_users)
        calls = [
            c for c in await tg.send(message(QUESTION, chat_id=member, user_id=member)) if c.method == "sendMessage"
        ]
        assert len(calls) >= 3
        texts = [c.params["text"] for c in calls]
        for text in texts:
            assert_safe_html(text)
        assert all(re.search(r"\[1\]$", text) for text in texts[:-2])  # each piece ends a sentence
        shown = " ".join(Tags(t).text for t in texts)
        assert all(f"Sentence {n} of" in shown for n in range(150))
        assert "reply_parameters" in calls[0].params and "reply_parameters" not in calls[1].params
        assert [("reply_markup" in c.params) for c in calls] == [False] * (len(calls) - 1) + [True]
        [inline] = await tg.send(inline_query(QUESTION, user_id=next(_users)))
        assert_safe_html(inline.params["results"][0]["input_message_content"]["message_text"])  # the first piece
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()


async def test_retry_after_is_honoured(tg):
    tg.api.retry_after["sendMessage"] = 1
    member = next(_users)
    calls = [c for c in await tg.send(message(QUESTION, chat_id=member, user_id=member)) if c.method == "sendMessage"]
    assert len(calls) == 2 and calls[0].params == calls[1].params
    assert calls[1].at - calls[0].at >= 1.0  # waited as long as Telegram asked, then sent again
    assert tg.services.storage.stats("telegram", None, since=0).answered == 1


# --------------------------------------------------------------------------- admins and maintainers


@ON_BOTH_STATE_BACKENDS
async def test_admin_commands_are_checked_in_code_and_cached_briefly(engine, tmp_path, state):
    tg = await harness_for(engine, tmp_path, state)
    try:
        member = next(_users)
        for command in ("/enable", "/disable", "/stats", "/unanswered"):
            assert await tg.replies(message(command, chat_id=GROUP_ID, user_id=member)) == [NOT_ADMIN]
        refused = NOT_MAINTAINER.format(command="reindex")
        assert await tg.replies(message("/reindex", chat_id=GROUP_ID, user_id=ADMIN)) == [refused]
        assert await tg.replies(message("/stats", chat_id=member, user_id=member)) == [GROUP_ONLY]

        await enable_group(tg)
        checks = len(tg.api.sent("getChatMember"))
        await tg.send(message(f"/ask {QUESTION}", chat_id=GROUP_ID, user_id=member))
        await tg.send(
            message("/ask What is the best recipe for chocolate cake?", chat_id=GROUP_ID, user_id=next(_users))
        )
        [stats] = await tg.replies(message("/stats 7", chat_id=GROUP_ID, user_id=ADMIN))
        assert "Asked 2 · answered 1 · declined 1" in stats
        documents = [
            c
            for c in await tg.send(message("/unanswered", chat_id=GROUP_ID, user_id=ADMIN))
            if c.method == "sendDocument"
        ]
        assert len(tg.api.sent("getChatMember")) == checks  # the admin's status was remembered
        [csv_bytes] = documents[0].files.values()
        rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))
        assert rows[0][2] == "question" and "chocolate cake" in rows[1][2]
        assert await tg.replies(message("/stats 0", chat_id=GROUP_ID, user_id=ADMIN)) == [
            "The number of days must be a whole number from 1 to 3,650."
        ]

        tg.services.engine.settings.knowledge_dir.joinpath("bulletin.md").write_text(
            "---\ntitle: Crew bulletin\n---\nThe crew grew zucchini in the Veggie greenhouse in December.\n",
            encoding="utf-8",
        )
        [report] = await tg.replies(message("/reindex", chat_id=MAINTAINER, user_id=MAINTAINER))
        assert report.startswith("Reindexed") and "bulletin" in engine.index.documents
    finally:
        await tg.application.shutdown()
        tg.services.storage.close()


async def test_only_a_yes_is_remembered_and_for_at_most_ten_seconds(tg):
    now = [1000.0]
    handlers = tg.application.bot_data["handlers"]
    handlers.clock = lambda: now[0]
    member = next(_users)
    stats = message("/stats", chat_id=GROUP_ID, user_id=member)
    assert await tg.replies(stats) == [NOT_ADMIN]
    tg.api.admins.add((GROUP_ID, member))  # made admin a moment later: let in at once, the "no" was not kept
    assert "Asked 0" in (await tg.replies(message("/stats", chat_id=GROUP_ID, user_id=member)))[0]
    checks = len(tg.api.sent("getChatMember"))
    assert "Asked 0" in (await tg.replies(message("/stats", chat_id=GROUP_ID, user_id=member)))[0]
    assert len(tg.api.sent("getChatMember")) == checks  # the "yes" is remembered...

    tg.api.admins.discard((GROUP_ID, member))  # ...but a demoted admin loses /disable within 10 s
    assert tg.services.settings.telegram.admin_cache_seconds <= 10
    now[0] += 10
    assert await tg.replies(message("/disable", chat_id=GROUP_ID, user_id=member)) == [NOT_ADMIN]
    assert await tg.replies(message("/disable", chat_id=GROUP_ID, user_id=member)) == [NOT_ADMIN]
    assert len(tg.api.sent("getChatMember")) == checks + 2  # every "no" asked again


async def test_the_menu_lists_member_commands_and_admin_commands(tg):
    scopes = {
        c.params["scope"]["type"]: {x["command"] for x in c.params["commands"]} for c in tg.api.sent("setMyCommands")
    }
    assert scopes["default"] == {"ask", "sources", "forget", "help"}
    assert scopes["all_chat_administrators"] >= {"enable", "disable", "stats", "unanswered", "gaps", "note"}
    [help_text] = await tg.replies(message("/start", chat_id=MAINTAINER, user_id=MAINTAINER))
    assert "/enable" in help_text and "/reindex" in help_text and f"@{BOT_USERNAME} and a question" in help_text
    assert {tag for tag, _ in Tags(help_text).tags} == {"b"}


# --------------------------------------------------------------------------- running it


def test_telegram_without_a_token_exits_2_naming_the_variable(monkeypatch, tmp_path, capsys):
    for name in ("TELEGRAM_TOKEN", "LAUNCHBOT_TELEGRAM_TOKEN", "DISCORD_TOKEN", "LAUNCHBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert bot.cli.main.main(["telegram"]) == 2
    assert "TELEGRAM_TOKEN" in capsys.readouterr().err
    assert bot.cli.main.main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "DISCORD_TOKEN" in error and "TELEGRAM_TOKEN" in error


def test_webhook_mode_needs_its_secret_token(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("LAUNCHBOT_TELEGRAM__WEBHOOK_URL", "https://bot.example.org/telegram")
    assert bot.cli.main.main(["telegram"]) == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err


async def test_the_bot_api_url_is_a_setting(launch_engine, tmp_path):
    settings = with_telegram(launch_engine.settings)
    settings = settings.model_copy(
        update={"telegram": settings.telegram.model_copy(update={"base_url": "http://127.0.0.1:8081/bot"})}
    )
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    application = build_application(Services(settings, launch_engine, storage), TOKEN, request=BotAPI())
    assert application.bot.base_url == f"http://127.0.0.1:8081/bot{TOKEN}"
    async with application:
        assert application.bot.id == BOT_ID
    storage.close()


HOOK, SECRET, SECRET_HEADER = "https://bot.example.org/tg/hook", "s3cret_Token-1", "X-Telegram-Bot-Api-Secret-Token"


async def test_webhook_mode_checks_the_secret_token_on_every_update(launch_engine, tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = with_telegram(launch_engine.settings).model_copy(update={"telegram_webhook_secret": SecretStr(SECRET)})
    settings = settings.model_copy(
        update={
            "telegram": settings.telegram.model_copy(
                update={
                    "webhook_url": "https://bot.example.org/tg/hook",
                    "webhook_listen": "127.0.0.1",
                    "webhook_port": port,
                }
            )
        }
    )
    api, real_build = BotAPI(), bot.telegram.app.build_application
    monkeypatch.setattr(bot.telegram.app, "build_application", lambda s, t, **kw: real_build(s, t, request=api))
    storage = SQLiteStorage(tmp_path / "db.sqlite3")
    stop = asyncio.Event()
    serving = asyncio.create_task(bot.telegram.app.serve(Services(settings, launch_engine, storage), TOKEN, stop=stop))
    try:
        async with httpx.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/tg/hook"
            for _ in range(100):
                if api.sent("setWebhook"):
                    break
                await asyncio.sleep(0.05)
            [hook] = api.sent("setWebhook")
            assert (
                hook.params["url"] == "https://bot.example.org/tg/hook"
                and hook.params["secret_token"] == "s3cret_Token-1"
            )
            member = next(_users)
            update = message(QUESTION, chat_id=member, user_id=member)
            refused = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            assert refused.status_code == 403
            accepted = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_Token-1"}
            )
            assert accepted.status_code == 200
            for _ in range(100):
                if api.sent():
                    break
                await asyncio.sleep(0.05)
            [reply] = api.sent()
            assert reply.params["chat_id"] == member and mentions_launch_date(reply.params["text"])
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)
        storage.close()
