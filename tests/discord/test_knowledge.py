"""`/knowledge add|list|remove` in Discord: maintainers only (checked in code), the work off the event
loop, private replies that say what was added or why not."""

from __future__ import annotations

import discord
import pytest

from bot.discord.checks import NotAllowed
from bot.discord.exts.knowledge import Knowledge
from bot.service.storage import SQLiteStorage
from tests.helpers import MockBot, MockInteraction, MockMember, MockRole


@pytest.fixture
def bot(engine, tmp_path) -> MockBot:
    settings = engine.settings.model_copy(
        update={"discord": engine.settings.discord.model_copy(update={"maintainer_role": "Keepers"})}
    )
    mock = MockBot(settings, engine, SQLiteStorage(tmp_path / "bot.sqlite3"))
    yield mock
    mock.services.storage.close()


def text_of(interaction: MockInteraction) -> str:
    call = interaction.followup.send.await_args
    return call.args[0] if call.args else call.kwargs["embed"].description


async def test_only_maintainers_may_run_the_knowledge_commands(bot):
    commands = [c for c in Knowledge(bot).walk_app_commands() if isinstance(c, discord.app_commands.Command)]
    assert {c.qualified_name for c in commands} == {"knowledge add", "knowledge list", "knowledge remove"}
    for command in commands:
        member = MockInteraction(bot, permissions=discord.Permissions(manage_guild=True))  # a moderator
        with pytest.raises(NotAllowed, match="Administrator"):
            await command._check_can_run(member)
        keeper = MockInteraction(bot, user=MockMember(roles=[MockRole(name="Keepers")]))
        assert await command._check_can_run(keeper)


async def test_a_maintainer_adds_lists_and_removes_an_article(bot, newsroom):
    cog = Knowledge(bot)
    admin = MockInteraction(bot, permissions=discord.Permissions(administrator=True))
    await cog.add.callback(cog, admin, url=newsroom.url("/bulletins/zucchini"))
    assert admin.response.defer.await_args.kwargs["ephemeral"] is True
    reply = text_of(admin)
    assert reply.startswith("Added: “Station crew harvests its first zucchini” — Orbit Daily, 2018-12-01, en")
    assert admin.followup.send.await_args.kwargs["allowed_mentions"].everyone is False
    answer = bot.services.engine.answer("What did the Expedition 57 crew harvest in the Veggie greenhouse?")
    assert answer.answered and answer.sources[0].url == newsroom.url("/bulletins/zucchini")

    refused = MockInteraction(bot, permissions=discord.Permissions(administrator=True))
    await cog.add.callback(cog, refused, url=newsroom.url("/missing"))
    assert text_of(refused) == f"Not added: {newsroom.url('/missing')} answered 404 NOT FOUND."

    listing = MockInteraction(bot, permissions=discord.Permissions(administrator=True))
    await cog.list_documents.callback(cog, listing)
    shown = text_of(listing)
    assert "station-crew-harvests-its-first-zucchini" in shown and "via link" in shown
    assert "a file written by hand" in shown  # the launch articles

    removal = MockInteraction(bot, permissions=discord.Permissions(administrator=True))
    await cog.remove.callback(cog, removal, doc_id="station-crew-harvests-its-first-zucchini")
    assert text_of(removal).startswith("Removed station-crew-harvests-its-first-zucchini")
    assert "station-crew-harvests-its-first-zucchini" not in bot.services.engine.index.documents
