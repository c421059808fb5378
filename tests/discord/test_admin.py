"""Moderator and maintainer commands, feedback buttons and persistence: permissions enforced by the
commands' own checks, votes that survive a restart, and reindexes that never interrupt answering.
What reads or writes the state database runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import threading

import discord
import pytest
from discord import app_commands

import bot.core.store.faiss_store
from bot.core.engine import Engine
from bot.discord.checks import NotAllowed
from bot.discord.exts.ask import Ask
from bot.discord.exts.feedback import SourcesButton, VoteButton
from bot.discord.exts.maintenance import BUSY, Maintenance
from bot.discord.exts.moderation import Moderation
from bot.service.pgstorage import open_state
from bot.service.storage import SQLITE_MIGRATIONS, ChatConfig, Origin, SQLiteStorage, Storage
from tests.helpers import (
    ON_BOTH_STATE_BACKENDS,
    MockBot,
    MockGuild,
    MockInteraction,
    MockMember,
    MockRole,
    MockTextChannel,
    mentions_launch_date,
)

NEW_DOCUMENT = """---
title: Station crew bulletin
language: en
---
The station crew grew zucchini in the Veggie greenhouse during Expedition 57, harvesting them in December.
"""


def gated_commands(cog) -> list[app_commands.Command]:
    return [c for c in cog.walk_app_commands() if isinstance(c, app_commands.Command)]


@pytest.fixture
def storage(state: Storage) -> Storage:
    return state


@pytest.fixture
def mock_bot(settings, storage) -> MockBot:
    return MockBot(
        settings.model_copy(
            update={
                "discord": settings.discord.model_copy(
                    update={"moderator_role": "Helpers", "maintainer_role": "Keepers"}
                )
            }
        ),
        None,
        storage,
    )


async def can_run(command: app_commands.Command, interaction) -> bool:
    """What the command tree runs before a callback: the binding's and the command's own checks."""
    try:
        return await command._check_can_run(interaction)
    except NotAllowed:
        return False


async def test_every_moderator_and_maintainer_command_refuses_a_plain_member(mock_bot):
    commands = gated_commands(Moderation(mock_bot)) + gated_commands(Maintenance(mock_bot))
    assert {c.qualified_name for c in commands} >= {
        "channel enable",
        "channel disable",
        "channel mode",
        "channel list",
        "stats",
        "unanswered",
        "gaps",
        "note add",
        "note list",
        "note remove",
        "reindex",
        "sources",
        "status",
        "sync",
    }
    for command in commands:
        assert command.checks, f"/{command.qualified_name} has no check"
        member = MockInteraction(mock_bot, user=MockMember(roles=[MockRole(name="Everyone else")]))
        with pytest.raises(NotAllowed, match="needs"):
            await command._check_can_run(member)


async def test_moderators_and_maintainers_get_exactly_their_commands(mock_bot):
    moderation, maintenance = gated_commands(Moderation(mock_bot)), gated_commands(Maintenance(mock_bot))
    manage = MockInteraction(mock_bot, permissions=discord.Permissions(manage_guild=True))
    helper = MockInteraction(mock_bot, user=MockMember(roles=[MockRole(name="Helpers")]))
    keeper = MockInteraction(mock_bot, user=MockMember(roles=[MockRole(name="Keepers")]))
    admin = MockInteraction(mock_bot, permissions=discord.Permissions(administrator=True))
    maintainer_only = {"reindex", "sync"}
    for command in moderation + maintenance:
        is_maintainer_command = command.qualified_name in maintainer_only
        for interaction in (manage, helper):
            assert await can_run(command, interaction) is not is_maintainer_command, command.qualified_name
        for interaction in (keeper, admin):
            assert await can_run(command, interaction), command.qualified_name
    assert not Ask(mock_bot).ask.checks  # asking is for everyone


@ON_BOTH_STATE_BACKENDS
async def test_channel_allow_list_and_mode_are_stored_and_reported(mock_bot, storage):
    cog, guild = Moderation(mock_bot), MockGuild()
    channel = MockTextChannel(guild=guild)
    mod = MockInteraction(mock_bot, guild=guild, channel=channel, permissions=discord.Permissions(manage_guild=True))
    await cog.enable.callback(cog, mod, channel=None)
    await cog.mode.callback(cog, mod, mode="thread", channel=None)
    assert mod.response.defer.await_args.kwargs["ephemeral"] is True
    assert all(call.kwargs["ephemeral"] for call in mod.sent())
    assert mock_bot.channel_configs[channel.id] == ChatConfig(str(guild.id), True, "thread")
    assert storage.chats("discord")[str(channel.id)] == ChatConfig(str(guild.id), True, "thread")
    await cog.disable.callback(cog, mod, channel=None)
    assert not storage.chats("discord")[str(channel.id)].enabled


@ON_BOTH_STATE_BACKENDS
async def test_feedback_buttons_are_stored_and_survive_a_restart(launch_engine, state_settings):
    first = MockBot(launch_engine.settings, launch_engine, open_state(state_settings))
    channel = MockTextChannel(guild=MockGuild())
    first.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True)
    ask = MockInteraction(first, channel=channel, guild=channel.guild)
    await Ask(first).ask.callback(Ask(first), ask, question="When did the Progress MS-10 launch?")
    custom_ids = [item.custom_id for item in ask.followup.send.await_args.kwargs["view"].children]
    first.services.storage.close()

    # A new process: new storage on the same database; the buttons are rebuilt from their custom_ids alone.
    second = MockBot(launch_engine.settings, launch_engine, open_state(state_settings))
    voter = MockMember()

    async def click(custom_id: str, user: MockMember) -> MockInteraction:
        interaction = MockInteraction(second, user=user, guild=channel.guild, channel=channel)
        for cls in (SourcesButton, VoteButton):
            match = cls.__discord_ui_compiled_template__.fullmatch(custom_id)
            if match:
                item = await cls.from_custom_id(interaction, None, match)
                await item.callback(interaction)
        assert interaction.response.defer.await_args.kwargs["ephemeral"] is True
        return interaction

    sources_id, up_id, down_id = custom_ids
    question_id = int(up_id.rsplit(":", 1)[1])
    await click(up_id, voter)
    await click(down_id, voter)  # changes the vote, does not add one
    await click(up_id, MockMember())
    assert second.services.storage.votes(question_id) == (1, 1)
    shown = (await click(sources_id, MockMember())).followup.send.await_args
    assert shown.kwargs["ephemeral"] is True and mentions_launch_date(shown.kwargs["embeds"][0].description)
    second.services.storage.close()
    third = open_state(state_settings)
    assert third.votes(question_id) == (1, 1)
    third.close()


def test_schema_is_versioned_and_migrations_run_once(tmp_path):
    path = tmp_path / "db.sqlite3"
    SQLiteStorage(path).close()
    again = SQLiteStorage(path)
    assert again.schema_version() == len(SQLITE_MIGRATIONS)
    again.close()


@ON_BOTH_STATE_BACKENDS
async def test_stats_and_the_exportable_unanswered_list(mock_bot, storage):
    guild = MockGuild()
    where = Origin("discord", str(guild.id), "1", "2")
    answered = storage.record_question(where, question="When?", answered=True)
    storage.record_question(where, question='=HYPERLINK("http://evil")', answered=False)
    storage.vote(answered, "5", -1)
    mod = MockInteraction(mock_bot, guild=guild, permissions=discord.Permissions(manage_guild=True))
    cog = Moderation(mock_bot)
    await cog.stats.callback(cog, mod, days=7)
    fields = {f.name: f.value for f in mod.followup.send.await_args.kwargs["embed"].fields}
    assert (fields["Asked"], fields["Answered"], fields["Declined"]) == ("2", "1", "1")
    assert fields["Feedback"] == "👍 0 · 👎 1"

    export = MockInteraction(mock_bot, guild=guild, permissions=discord.Permissions(manage_guild=True))
    await cog.unanswered.callback(cog, export, days=30, export=True)
    sent = export.followup.send.await_args.kwargs
    rows = list(csv.reader(io.StringIO(sent["file"].fp.read().decode("utf-8-sig"))))
    assert [row[3] for row in rows[1:]] == ["declined", "answered"]
    assert rows[1][2].startswith("'=")  # a formula stays text in a spreadsheet


async def test_reindex_swaps_the_index_while_a_concurrent_ask_still_answers(engine, monkeypatch):
    settings = engine.settings.model_copy(
        update={"chat": engine.settings.chat.model_copy(update={"user_cooldown_seconds": 0})}
    )
    storage = SQLiteStorage(settings.index_dir.parent / "bot.sqlite3")
    client = MockBot(settings, engine, storage)
    channel = MockTextChannel(guild=MockGuild())
    client.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True)
    (settings.knowledge_dir / "bulletin.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    building, release = threading.Event(), threading.Event()
    real_build = bot.core.store.faiss_store.build_index

    def gated_build(*args, **kwargs):
        building.set()
        assert release.wait(30)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(bot.core.store.faiss_store, "build_index", gated_build)
    maintenance, asker = Maintenance(client), Ask(client)
    admin = MockInteraction(client, permissions=discord.Permissions(administrator=True))
    old_path = engine.index.path
    reindex = asyncio.create_task(maintenance.reindex.callback(maintenance, admin, rebuild=False))
    assert await asyncio.to_thread(building.wait, 30)

    during = MockInteraction(client, channel=channel, guild=channel.guild)
    await asker.ask.callback(asker, during, question="When did the Progress MS-10 launch?")
    assert mentions_launch_date(during.followup.send.await_args.kwargs["embed"].description)
    second = MockInteraction(client, permissions=discord.Permissions(administrator=True))
    await maintenance.reindex.callback(maintenance, second, rebuild=False)
    assert second.followup.send.await_args.args[0] == BUSY
    assert not reindex.done()

    release.set()
    await reindex
    report = admin.followup.send.await_args.kwargs["embed"]
    assert report.fields[0].name == "Added (1)" and "bulletin" in report.fields[0].value
    assert engine.index.path != old_path
    after = MockInteraction(client, channel=channel, guild=channel.guild)
    await asker.ask.callback(asker, after, question="What did the crew grow in the Veggie greenhouse?")
    assert "zucchini" in after.followup.send.await_args.kwargs["embed"].description
    storage.close()


async def test_a_failed_reindex_keeps_the_old_index_and_a_cli_reindex_is_picked_up(engine, embedder, monkeypatch):
    storage = SQLiteStorage(engine.settings.index_dir.parent / "bot.sqlite3")
    client = MockBot(engine.settings, engine, storage)
    (engine.settings.knowledge_dir / "bulletin.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    real_build = bot.core.store.faiss_store.build_index

    class ExplodingEmbedder:
        def __init__(self, inner) -> None:
            self.name, self.dimension = inner.name, inner.dimension

        def encode_passages(self, texts, progress=False):
            raise RuntimeError("embedding exploded")

    def failing_build(knowledge_dir, index_dir, embedder, *args, **kwargs):
        return real_build(knowledge_dir, index_dir, ExplodingEmbedder(embedder), *args, **kwargs)

    monkeypatch.setattr(bot.core.store.faiss_store, "build_index", failing_build)
    maintenance = Maintenance(client)
    admin = MockInteraction(client, permissions=discord.Permissions(administrator=True))
    old_path = engine.index.path
    await maintenance.reindex.callback(maintenance, admin, rebuild=False)
    message = admin.followup.send.await_args.args[0]
    assert "failed" in message and "embedding exploded" in message and "still answering" in message
    assert engine.index.path == old_path
    assert (await asyncio.to_thread(engine.answer, "When did the Progress MS-10 launch?")).answered

    # Fixed, then rebuilt from the CLI by another process: the bot's reload loop picks it up.
    monkeypatch.setattr(bot.core.store.faiss_store, "build_index", real_build)
    Engine(engine.settings, embedder).reindex()
    assert await client.services.reload_once()
    assert engine.index.path != old_path and "bulletin" in engine.index.documents
    storage.close()
