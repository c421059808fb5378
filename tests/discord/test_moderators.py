"""Discord moderators: /stats with its chart attached, /gaps with "Answer" buttons where notes may be
written, and /forget for every member. Real services and storage; spec'd Discord mocks."""

from __future__ import annotations

import io
import json

import discord
from PIL import Image

from bot.discord.app import NO_MENTIONS
from bot.discord.exts.moderation import NOTIFIED, AnswerGapButton, Moderation, NoteForm
from bot.discord.exts.privacy import Privacy
from bot.discord.render import answer_embed
from bot.service.charts import COUNTS_KEY
from bot.service.storage import Origin
from tests.helpers import ON_BOTH_STATE_BACKENDS, MockBot, MockGuild, MockInteraction, MockMember, MockTextChannel

MANAGE = discord.Permissions(manage_guild=True)
ANSWER = "The weather at Baikonur on launch day was clear and cold, about −5 °C, with a light wind."


def bot_for(launch_engine, state, **notes) -> MockBot:
    settings = launch_engine.settings
    settings = settings.model_copy(update={"notes": settings.notes.model_copy(update=notes)})
    return MockBot(settings, launch_engine, state)


@ON_BOTH_STATE_BACKENDS
async def test_stats_attaches_the_chart_beside_the_figures(launch_engine, state):
    bot, guild = bot_for(launch_engine, state), MockGuild()
    where = Origin("discord", str(guild.id), "1", "2")
    answered = state.record_question(where, question="When?", answered=True)
    state.record_question(where, question="Cake?", answered=False)
    state.vote(answered, "7", 1)
    mod = MockInteraction(bot, guild=guild, permissions=MANAGE)
    cog = Moderation(bot)
    await cog.stats.callback(cog, mod, days=7)
    sent = mod.followup.send.await_args.kwargs
    fields = {f.name: f.value for f in sent["embed"].fields}
    assert (fields["Asked"], fields["Answered"], fields["Declined"]) == ("2", "1", "1")
    assert sent["embed"].image.url == "attachment://stats.png" and sent["file"].filename == "stats.png"
    assert sent["ephemeral"] and sent["allowed_mentions"] is NO_MENTIONS
    counts = json.loads(Image.open(io.BytesIO(sent["file"].fp.read())).text[COUNTS_KEY])
    assert (counts["answered"][-1], counts["declined"][-1], counts["up"][-1]) == (1, 1, 1)
    assert len(counts["days"]) == 7


async def test_gaps_shows_topics_and_answer_buttons_where_notes_are_allowed(launch_engine, state):
    guild = MockGuild()
    asked = [
        "What was the weather at Baikonur during the launch?",
        "weather at baikonur?",
        "लॉन्च के समय बैकोनूर में मौसम कैसा था?",
        "How much did the mission cost?",
        "How do I bake a chocolate cake?",
        "Who won the football World Cup in 2018?",
    ]
    for member, question in enumerate(asked):
        state.record_question(Origin("discord", str(guild.id), "1", str(member)), question=question, answered=False)

    closed = bot_for(launch_engine, state)
    mod = MockInteraction(closed, guild=guild, permissions=MANAGE)
    await Moderation(closed).gaps.callback(Moderation(closed), mod, days=7)
    sent = mod.followup.send.await_args.kwargs
    embed = sent["embed"]
    assert "6 question(s) from 6 people" in embed.description
    assert embed.fields[0].name.startswith("1. 3 people (new)") and "मौसम" in embed.fields[0].value
    assert f"discord:{guild.id}" in embed.footer.text and not sent["view"].children  # not listed: no buttons
    assert len(embed) <= 6000

    listed = bot_for(launch_engine, state, communities=[f"discord:{guild.id}"])
    mod = MockInteraction(listed, guild=guild, permissions=MANAGE)
    await Moderation(listed).gaps.callback(Moderation(listed), mod, days=7)
    sent = mod.followup.send.await_args.kwargs
    buttons = [child.item for child in sent["view"].children]
    assert [b.label for b in buttons] == [f"Answer {n}" for n in range(1, len(sent["embed"].fields) + 1)] != []
    assert buttons[0].custom_id.startswith("launchbot:gap:")

    member = MockInteraction(listed, guild=guild, user=MockMember())  # not a moderator: refused, no form
    item = AnswerGapButton(1, tuple(int(n) for n in buttons[0].custom_id.rsplit(":", 1)[1].split(",")))
    await item.callback(member)
    assert "Only moderators" in member.response.send_message.await_args.args[0]
    assert not member.response.send_modal.await_count


@ON_BOTH_STATE_BACKENDS
async def test_forget_deletes_the_members_questions_and_votes_only(launch_engine, state):
    bot, guild = bot_for(launch_engine, state), MockGuild()
    member, other = MockMember(), MockMember()
    mine = state.record_question(Origin("discord", str(guild.id), "1", str(member.id)), question="Mine?", answered=True)
    theirs = state.record_question(Origin("discord", str(guild.id), "1", str(other.id)), question="?", answered=True)
    state.vote(theirs, str(member.id), -1)
    state.vote(mine, str(other.id), 1)
    interaction = MockInteraction(bot, guild=guild, user=member)
    cog = Privacy(bot)
    assert not cog.forget.checks  # for every member
    await cog.forget.callback(cog, interaction)
    [reply] = [call.args[0] for call in interaction.sent()]
    assert reply.startswith("Done: 1 question(s) you asked and 1 vote(s) you gave are deleted.")
    assert state.get_answer(mine) is None and state.votes(theirs) == (0, 0) and state.get_answer(theirs) is not None


async def test_answering_a_gap_writes_a_note_that_answers_and_tells_who_asked(engine, state):
    """/gaps → "Answer 1" → the form, prefilled with the topic's questions → a moderator note: the same
    questions are then answered quoting it, credited to the moderator; with notes.notify_days the
    member whose question it answers is told in its reply chain."""
    guild, channel = MockGuild(), MockTextChannel()
    asked = [
        "What was the weather at Baikonur during the launch?",
        "How was the weather at Baikonur on launch day?",
        "weather at baikonur?",
        "How do I bake a chocolate cake?",
        "Who won the football World Cup in 2018?",
        "What is the capital of Australia?",
    ]
    for member, question in enumerate(asked):
        origin = Origin("discord", str(guild.id), str(channel.id), str(member))
        stored = state.record_question(origin, question=question, answered=False)
        state.mark_delivered(stored, str(700 + member))
    bot = bot_for(engine, state, communities=[f"discord:{guild.id}"], notify_days=7)
    bot.get_channel.side_effect = lambda channel_id: channel if channel_id == channel.id else None
    cog = Moderation(bot)
    mod = MockInteraction(bot, guild=guild, permissions=MANAGE, user=MockMember(display_name="Anna"))
    await cog.gaps.callback(cog, mod, days=7)
    first = mod.followup.send.await_args.kwargs["view"].children[0]

    pressed = MockInteraction(bot, guild=guild, permissions=MANAGE, user=MockMember(display_name="Anna"))
    await first.callback(pressed)
    form = pressed.response.send_modal.await_args.args[0]
    assert isinstance(form, NoteForm)
    assert set(form.questions.default.splitlines()) == set(asked[:3])  # the topic's examples, one a line
    form.questions._value = form.questions.default  # what the moderator submits: the form as shown, and
    form.answer._value = ANSWER  # the answer they typed
    submitted = MockInteraction(bot, guild=guild, permissions=MANAGE, user=MockMember(display_name="Anna"))
    await form.on_submit(submitted)

    embed = submitted.followup.send.await_args.kwargs["embed"]
    assert embed.title == "Moderator note 1" and embed.footer.text.startswith("Moderator note by Anna, ")
    now = {f.name: f.value for f in embed.fields}["Now"]
    assert now.count("now answered, quoting the note") == 3 and "Told 3 member(s)" in now
    told = channel.send.await_args_list
    assert len(told) == 3 and all(call.args == (NOTIFIED,) for call in told)
    assert {call.kwargs["reference"].message_id for call in told} == {700, 701, 702}
    assert all(call.kwargs["allowed_mentions"] is NO_MENTIONS for call in told)
    for question in asked[:3]:
        answer = engine.answer(question)
        assert answer.sources[0].doc_id == "notes/note-1"
        assert any(f.name.startswith("[1] Moderator note by Anna, ") for f in answer_embed(answer).fields)
    for question in asked[3:]:
        assert not engine.answer(question).answered

    listing = MockInteraction(bot, guild=guild, permissions=MANAGE)
    await cog.note_list.callback(cog, listing)
    assert "Moderator note by Anna" in listing.followup.send.await_args.args[0]
    removing = MockInteraction(bot, guild=guild, permissions=MANAGE)
    await cog.note_remove.callback(cog, removing, note_id="1")
    assert removing.followup.send.await_args.args[0] == "Removed note 1: it no longer answers."
    assert all(s.doc_id != "notes/note-1" for s in engine.answer(asked[0]).sources)
