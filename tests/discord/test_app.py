"""The bot as a whole, without a network: startup without a token, the token kept out of every log,
the cogs and persistent buttons wired up, errors turned into apologies, and embeds within limits."""

from __future__ import annotations

import io
import logging
import re

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

import bot.cli.main
from bot.core.engine import Answer, Source
from bot.discord.app import APOLOGY, LaunchBot, run
from bot.discord.checks import NotAllowed
from bot.discord.render import answer_embed, sources_embeds
from bot.service.logs import RedactingFilter, install_redaction
from bot.service.runtime import Services
from bot.service.storage import SQLiteStorage
from bot.service.text import stored_sources
from tests.helpers import MockInteraction

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.not-a-real-token-but-secret"


def test_discord_without_a_token_exits_2_naming_the_variable(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("LAUNCHBOT_DISCORD_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env or launchbot.yaml here to pick a token up from
    assert bot.cli.main.main(["discord"]) == 2
    error = capsys.readouterr().err
    assert "DISCORD_TOKEN" in error and ".env.example" in error


def test_the_token_is_redacted_from_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    install_redaction(TOKEN, handler)
    log = logging.getLogger("tests.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("connecting with %s", TOKEN)
        try:
            raise RuntimeError(f"Improper token has been passed: {TOKEN}")
        except RuntimeError:
            log.exception("login failed")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output
    assert output.count("[redacted]") == 2 and "Traceback" in output


async def test_a_rejected_token_exits_2_without_printing_or_logging_it(
    launch_engine, monkeypatch, capsys, caplog, tmp_path
):
    settings = launch_engine.settings.model_copy(
        update={
            "discord_token": SecretStr(TOKEN),
            "chat": launch_engine.settings.chat.model_copy(update={"database": tmp_path / "bot.sqlite3"}),
        }
    )

    async def rejected(self, token: str, **kwargs) -> None:
        logging.getLogger("discord.http").error("login with %s failed", token)
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(LaunchBot, "start", rejected)
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        with caplog.at_level(logging.INFO):
            assert await_in_thread(run, settings, engine=launch_engine) == 2
    finally:
        root.setLevel(level)
        for handler in root.handlers:
            handler.filters = [f for f in handler.filters if not isinstance(f, RedactingFilter)]
        root.handlers[:] = handlers
    captured = capsys.readouterr()
    assert "DISCORD_TOKEN" in captured.err
    assert TOKEN not in captured.out + captured.err + caplog.text
    assert "[redacted]" in caplog.text


def await_in_thread(function, *args, **kwargs):
    """``run`` starts its own event loop, so it cannot run inside this test's loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result(timeout=60)


async def test_the_bot_loads_every_cog_and_pings_no_one(settings, tmp_path):
    storage = SQLiteStorage(tmp_path / "bot.sqlite3")
    client = LaunchBot(Services(settings, None, storage))
    await client.setup_hook()  # no dev guild and no --sync-global: nothing is sent to Discord
    try:
        assert set(client.cogs) == {"Ask", "Feedback", "Moderation", "Maintenance", "Knowledge", "Privacy"}
        assert {c.name for c in client.tree.get_commands()} == {
            "ask",
            "channel",
            "stats",
            "unanswered",
            "gaps",
            "note",
            "forget",
            "reindex",
            "sources",
            "status",
            "sync",
            "knowledge",
        }
        assert client.allowed_mentions.to_dict() == discord.AllowedMentions.none().to_dict()
        assert client.intents.message_content and client.intents.guild_messages and client.intents.guilds
        assert not client.intents.members and not client.intents.presences
        assert client.services._reloading is not None  # the shared index reload loop is running
    finally:
        await client.services.stop_reloading()
        for extension in list(client.extensions):
            await client.unload_extension(extension)
        storage.close()


async def test_command_errors_become_an_apology_and_refusals_say_why(settings, tmp_path, caplog):
    storage = SQLiteStorage(tmp_path / "bot.sqlite3")
    client = LaunchBot(Services(settings, None, storage))
    refused = MockInteraction(client)
    await client.tree.on_error(refused, NotAllowed("This command needs the Administrator permission."))
    assert refused.response.send_message.await_args.kwargs["ephemeral"] is True
    assert "Administrator" in refused.response.send_message.await_args.args[0]

    broken = MockInteraction(client)
    await broken.response.defer(thinking=True)
    error = app_commands.CommandInvokeError(client.tree.get_command("ask") or _command(), RuntimeError("boom"))
    with caplog.at_level(logging.ERROR):
        await client.tree.on_error(broken, error)
    assert broken.followup.send.await_args.args[0] == APOLOGY
    assert broken.followup.send.await_args.kwargs["ephemeral"] is True
    assert "RuntimeError: boom" in caplog.text
    storage.close()


def _command() -> app_commands.Command:
    async def noop(interaction: discord.Interaction) -> None: ...

    return app_commands.Command(name="noop", description="noop", callback=noop)


def test_even_huge_answers_fit_discord_limits():
    long = "Word " * 2000 + "end."
    sources = [
        Source(
            number,
            "doc",
            "T" * 400,
            long,
            0,
            len(long),
            0.9,
            url="https://example.org/" + "x" * 50,
            publisher="@everyone",
            published="2018-11-16",
            context=long,
        )
        for number in range(1, 31)
    ]
    answer = Answer("q" * 5000, True, "“" + long + "” [1]", sources, confidence=0.9)
    embed = answer_embed(answer)
    assert len(embed) <= 6000 and len(embed.title) <= 256 and len(embed.fields) <= 25
    assert all(len(f.value) <= 1024 and len(f.name) <= 256 for f in embed.fields)
    assert "@everyone" not in str(embed.to_dict())
    embeds = sources_embeds(answer.question, stored_sources(answer))
    assert len(embeds) <= 10 and sum(len(e) for e in embeds) <= 6000


@pytest.mark.parametrize("limit", [80, 500, 1024])
def test_declines_show_the_closest_passage_labelled_as_not_an_answer(limit):
    closest = Source(1, "doc", "Title", "A passage. " * limit, 0, 10, 0.2, context="ctx")
    embed = answer_embed(Answer("Who won?", False, "I don't know.", closest=closest))
    assert embed.fields[0].name.startswith("Closest passage (not an answer)")
    assert len(embed) <= 6000


async def test_a_global_sync_with_a_development_server_shows_each_command_there_once(settings, tmp_path, monkeypatch):
    settings = settings.model_copy(update={"discord": settings.discord.model_copy(update={"dev_guild_id": 4242})})
    storage = SQLiteStorage(tmp_path / "bot.sqlite3")
    client = LaunchBot(Services(settings, None, storage))
    synced = []

    async def sync(*, guild=None):
        commands = client.tree.get_commands(guild=guild)
        synced.append((guild.id if guild else "global", {c.name for c in commands}))
        return commands

    monkeypatch.setattr(client.tree, "sync", sync)
    guild = discord.Object(id=4242)
    try:
        await client.setup_hook()  # the development server gets its copy at start
        assert synced == [(4242, {c.name for c in client.tree.get_commands()})]
        synced.clear()
        await client.sync_commands(to_global=True)
        # The global commands show in the development server too: its own copy must be emptied.
        assert dict(synced)[4242] == set() and "ask" in dict(synced)["global"]
        assert client.tree.get_commands(guild=guild) == []
    finally:
        await client.services.stop_reloading()
        for extension in list(client.extensions):
            await client.unload_extension(extension)
        storage.close()


LINK = "[click](https://evil.example)"
# A masked link Discord would render: an opening bracket not escaped by a backslash, then "](".
MASKED_LINK = re.compile(r"(?<!\\)(?:\\\\)*\[[^\[\]]*\]\(")


def test_markdown_links_in_titles_and_text_are_escaped_wherever_they_are_shown():
    text = f"Progress 71 docked. {LINK} It carried fuel."
    sources = [
        Source(number, "doc", f"{LINK} title {number}", text, 0, len(text), 0.9, publisher=LINK, context=text)
        for number in (1, 2)
    ]
    answered = Answer(f"When did it dock? {LINK}", True, f"“{text}” [1] [2]", sources, confidence=0.9)
    declined = Answer(f"Who won? {LINK}", False, "I don't know.", closest=sources[0])
    embeds = [
        answer_embed(answered),
        answer_embed(declined),
        *sources_embeds(answered.question, stored_sources(answered)),
        *sources_embeds(declined.question, stored_sources(declined), answered=False),
    ]
    shown = []
    for embed in embeds:
        data = embed.to_dict()
        shown += [data.get("title", ""), data.get("description", ""), data.get("author", {}).get("name", "")]
        shown += [part for field in data.get("fields", []) for part in (field["name"], field["value"])]
    assert any("click" in part for part in shown)
    for part in shown:
        assert not MASKED_LINK.search(part), part
    assert embeds[0].fields[0].name.startswith("[1]") or embeds[0].fields[0].name.startswith("\\[1]")
