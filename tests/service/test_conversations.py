"""The conversation store: turns kept per conversation, capped, linked to answers, and forgotten
(question text included) once idle for the configured time. Time is moved, never slept."""

from __future__ import annotations

from bot.core.conversation import Turn
from bot.service.conversations import SWEEP_SECONDS, Conversations


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(n: int) -> Turn:
    return Turn(f"question {n}?", (f"quoted sentence {n}.",))


def test_turns_are_kept_in_order_and_capped():
    store = Conversations(max_turns=3, ttl_seconds=60, clock=Clock())
    for n in range(5):
        store.add("discord", "thread:1", turn(n))
    assert [t.question for t in store.history("discord", "thread:1")] == ["question 2?", "question 3?", "question 4?"]
    assert store.history("discord", "thread:2") == [] and store.history("telegram", "thread:1") == []
    assert store.history("discord", None) == []


def test_a_conversation_expires_after_its_last_turn_and_its_text_goes_with_it():
    clock = Clock()
    store = Conversations(max_turns=6, ttl_seconds=1800, clock=clock)
    store.add("discord", "a", turn(1), message_ids=["m1"])
    clock.now += 1700
    store.add("discord", "a", turn(2), message_ids=["m2"])  # the clock restarts at the last turn
    clock.now += 1700
    assert len(store.history("discord", "a")) == 2 and store.replied_to("discord", "m1") == "a"
    clock.now += 100
    assert store.history("discord", "a") == []
    assert store.replied_to("discord", "m2") is None
    assert len(store) == 0  # nothing of it is left in memory


def test_idle_conversations_are_swept_without_being_asked_for():
    clock = Clock()
    store = Conversations(max_turns=6, ttl_seconds=60, clock=clock)
    for n in range(100):
        store.add("telegram", f"chat:{n}", turn(n), message_ids=[str(n)])
    clock.now += 61
    assert len(store) == 100
    clock.now += SWEEP_SECONDS
    store.add("telegram", "fresh", turn(0))  # any use sweeps, at most once a minute
    assert len(store) == 1
    assert store.expire() == 0


def test_replies_to_an_answer_continue_its_conversation():
    store = Conversations(clock=Clock())
    store.add("telegram", "42:7", turn(1), message_ids=["42:8"])
    assert store.replied_to("telegram", "42:8") == "42:7"
    assert store.replied_to("discord", "42:8") is None  # platforms never mix
    assert store.replied_to("telegram", "42:9") is None and store.replied_to("telegram", None) is None
    store.forget("telegram", "42:7")
    assert store.replied_to("telegram", "42:8") is None


def test_zero_turns_remembers_nothing():
    store = Conversations(max_turns=0, clock=Clock())
    store.add("discord", "a", turn(1), message_ids=["m"])
    assert store.history("discord", "a") == [] and store.replied_to("discord", "m") is None


async def test_the_asking_flow_answers_a_reply_with_its_conversation(launch_engine, tmp_path):
    """The hook every front end uses (Telegram: a reply to one of the bot's answers continues it)."""
    from bot.core.conversation import quoted_sentences
    from bot.service.asking import Asking
    from bot.service.limits import RateLimiter
    from bot.service.storage import Origin, open_storage

    storage = open_storage(tmp_path / "bot.sqlite3")
    asking = Asking(launch_engine, storage, RateLimiter(0, 0), conversations=Conversations(clock=Clock()))
    where = Origin("telegram", "-100", "-100", "7")
    first = await asking.answer("What is Progress 71?", where)
    await asking.delivered(first, conversation="-100:1", message_ids=["-100:2"])
    # A reply to the bot's answer (message 2) continues; a question that replies to nothing does not.
    key = asking.conversations.replied_to("telegram", "-100:2")
    follow_up = await asking.answer("When did it dock?", where, conversation=key)
    alone = await asking.answer(
        "When did it dock?", where, conversation=asking.conversations.replied_to("telegram", None)
    )
    storage.close()
    assert key == "-100:1" and follow_up.conversation == key
    assert follow_up.answer.answered and "November 18" in quoted_sentences(follow_up.answer.text)[0]
    assert not alone.answer.answered
    remembered = asking.conversations.history("telegram", key)
    assert [turn.question for turn in remembered] == ["What is Progress 71?"]  # not delivered yet
