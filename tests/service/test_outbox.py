"""The per-chat send queue: answers before command replies before notices when the budget is short,
an answer's held place never taken by a notice, reactions outside the budget, stale notices dropped,
an answer's pieces kept together. Telegram's minute is a fraction of a second here."""

from __future__ import annotations

import asyncio

import pytest

from bot.service.outbox import ANSWER, NOTICE, REPLY, Outbox

PERIOD = 0.3


def recorder(sent: list[str]):
    def send(label: str):
        async def go() -> str:
            sent.append(label)
            await asyncio.sleep(0)
            return label

        return go

    return send


async def test_when_the_budget_is_short_answers_go_first_then_replies_then_notices():
    outbox, sent = Outbox(lambda chat: 2, period=PERIOD), []
    send = recorder(sent)
    await outbox.post(-1, [send("earlier 1"), send("earlier 2")], priority=REPLY)  # the window is full
    waiting = [
        asyncio.create_task(outbox.post(-1, [send(label)], priority=priority))
        for label, priority in (("notice", NOTICE), ("reply", REPLY), ("answer", ANSWER))
    ]
    results = await asyncio.gather(*waiting)
    assert sent == ["earlier 1", "earlier 2", "answer", "reply", "notice"]
    assert results == [["notice"], ["reply"], ["answer"]]


async def test_a_notice_never_takes_a_place_an_answer_being_made_holds():
    outbox, sent = Outbox(lambda chat: 2, period=PERIOD), []
    send = recorder(sent)
    places = [outbox.hold(-1), outbox.hold(-1)]  # two questions accepted, answers being made
    notice = asyncio.create_task(outbox.post(-1, [send("notice")], priority=NOTICE))
    reaction = asyncio.create_task(outbox.post(-1, [send("reaction")], priority=NOTICE, counted=False))
    await reaction  # not a message: it needs no place
    await asyncio.sleep(0.01)
    assert sent == ["reaction"]
    for number, place in enumerate(places):
        await outbox.post(-1, [send(f"answer {number}")], priority=ANSWER, place=place)
    await notice  # after both answers, in the next window
    assert sent == ["reaction", "answer 0", "answer 1", "notice"]


async def test_a_notice_not_sent_within_its_window_is_dropped():
    outbox, sent = Outbox(lambda chat: 1, period=PERIOD), []
    send = recorder(sent)
    await outbox.post(-1, [send("answer")], priority=ANSWER)
    assert await outbox.post(-1, [send("stale")], priority=NOTICE, expires_in=0.05) is None
    assert sent == ["answer"] and outbox.dropped == 1


async def test_private_chats_keep_the_order_an_answers_pieces_stay_together_and_errors_reach_the_sender():
    outbox, sent = Outbox(lambda chat: None), []
    send = recorder(sent)

    async def fails() -> None:
        raise RuntimeError("rejected")

    first = asyncio.create_task(outbox.post(7, [send("a1"), send("a2"), send("a3")], priority=ANSWER))
    second = asyncio.create_task(outbox.post(7, [send("b1")], priority=ANSWER))
    broken = asyncio.create_task(outbox.post(7, [fails, send("never")], priority=REPLY))
    assert await first == ["a1", "a2", "a3"] and await second == ["b1"]
    with pytest.raises(RuntimeError, match="rejected"):
        await broken
    assert sent == ["a1", "a2", "a3", "b1"]
    assert outbox.hold(7).release() is None  # no budget, nothing to hold
