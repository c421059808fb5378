"""The conversation store: turns kept per conversation, capped, linked to answers, and forgotten
(question text included) once idle for the configured time; the same behaviour in memory, in SQLite
and in a real PostgreSQL, and, in a database, shared by every process on it. Time is moved, never slept."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.core.answering.conversation import Turn
from bot.service.conversations import SWEEP_SECONDS, Conversations, StoredConversations
from bot.service.pgstorage import PostgresStorage
from bot.service.storage import SQLiteStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def turn(n: int) -> Turn:
    return Turn(f"question {n}?", (f"quoted sentence {n}.",))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path):
    """Makes conversation stores of one kind; in a database, every store made in one test opens its
    own connection to the same database (as another process would)."""
    opened = []

    def make(**options) -> Conversations | StoredConversations:
        if request.param == "memory":
            return Conversations(**options)
        if request.param == "sqlite":
            storage = SQLiteStorage(tmp_path / "state.sqlite3")
        else:
            storage = PostgresStorage(request.getfixturevalue("database_url"))
        opened.append(storage)
        return StoredConversations(storage, **options)

    yield make
    for storage in opened:
        storage.close()


@pytest.fixture
def new_shared_store(new_store, request: pytest.FixtureRequest):
    if request.node.callspec.params["new_store"] == "memory":
        pytest.skip("a store in memory is one process's own")
    return new_store


def test_turns_are_kept_in_order_and_capped(new_store):
    store = new_store(max_turns=3, ttl_seconds=60, clock=Clock())
    for n in range(5):
        store.add("discord", "thread:1", turn(n))
    assert [t.question for t in store.history("discord", "thread:1")] == ["question 2?", "question 3?", "question 4?"]
    assert store.history("discord", "thread:2") == [] and store.history("telegram", "thread:1") == []
    assert store.history("discord", None) == []


def test_a_conversation_expires_after_its_last_turn_and_its_text_goes_with_it(new_store):
    clock = Clock()
    store = new_store(max_turns=6, ttl_seconds=1800, clock=clock)
    store.add("discord", "a", turn(1), message_ids=["m1"])
    clock.now += 1700
    store.add("discord", "a", turn(2), message_ids=["m2"])  # the clock restarts at the last turn
    clock.now += 1700
    assert len(store.history("discord", "a")) == 2 and store.replied_to("discord", "m1") == "a"
    clock.now += 100
    assert store.history("discord", "a") == []
    assert store.replied_to("discord", "m2") is None
    assert len(store) == 0  # nothing of it is left, in memory or in the database


def test_idle_conversations_are_swept_without_being_asked_for(new_store):
    clock = Clock()
    store = new_store(max_turns=6, ttl_seconds=60, clock=clock)
    for n in range(100):
        store.add("telegram", f"chat:{n}", turn(n), message_ids=[str(n)])
    clock.now += 61
    assert len(store) == 100
    clock.now += SWEEP_SECONDS
    store.add("telegram", "fresh", turn(0))  # any use sweeps, at most once a minute
    assert len(store) == 1
    assert store.expire() == 0


def test_replies_to_an_answer_continue_its_conversation(new_store):
    store = new_store(clock=Clock())
    store.add("telegram", "42:7", turn(1), message_ids=["42:8"])
    assert store.replied_to("telegram", "42:8") == "42:7"
    assert store.replied_to("discord", "42:8") is None  # platforms never mix
    assert store.replied_to("telegram", "42:9") is None and store.replied_to("telegram", None) is None
    store.forget("telegram", "42:7")
    assert store.replied_to("telegram", "42:8") is None


def test_zero_turns_remembers_nothing(new_store):
    store = new_store(max_turns=0, clock=Clock())
    store.add("discord", "a", turn(1), message_ids=["m"])
    assert store.history("discord", "a") == [] and store.replied_to("discord", "m") is None


def test_a_conversation_one_process_started_is_continued_by_another(new_shared_store):
    clock = Clock()
    first, second = new_shared_store(ttl_seconds=60, clock=clock), new_shared_store(ttl_seconds=60, clock=clock)
    first.add("telegram", "-100:1", turn(1), message_ids=["-100:2", "-100:3"])
    key = second.replied_to("telegram", "-100:3")  # the reply reached the other process
    assert key == "-100:1" and second.history("telegram", key) == [turn(1)]
    clock.now += 50
    second.add("telegram", key, turn(2), message_ids=["-100:5"])
    assert first.history("telegram", key) == [turn(1), turn(2)] and first.replied_to("telegram", "-100:5") == key
    clock.now += 59  # idle from the last turn, whichever process added it
    assert first.replied_to("telegram", "-100:2") == key
    clock.now += 1
    assert second.history("telegram", key) == [] and first.replied_to("telegram", "-100:5") is None
    assert len(first) == len(second) == 0


def test_turns_added_at_once_by_two_processes_are_all_kept_in_order(new_shared_store):
    stores = [new_shared_store(max_turns=100, clock=Clock()) for _ in range(2)]

    def add(n: int) -> None:
        for i in range(20):
            stores[n].add("discord", "thread:1", Turn(f"process {n} turn {i}?"), message_ids=[f"{n}:{i}"])

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(add, range(2)))  # a failure in either is raised here
    questions = [t.question for t in stores[0].history("discord", "thread:1")]
    assert len(questions) == 40
    for n in range(2):  # each process's turns in the order it added them
        assert [q for q in questions if q.startswith(f"process {n} ")] == [f"process {n} turn {i}?" for i in range(20)]
    assert all(stores[1].replied_to("discord", f"{n}:{i}") == "thread:1" for n in range(2) for i in range(20))


async def test_the_asking_flow_answers_a_reply_with_its_conversation(launch_engine, tmp_path, new_store):
    """The hook every front end uses (Telegram: a reply to one of the bot's answers continues it)."""
    from bot.core.answering.conversation import quoted_sentences
    from bot.service.asking import Asking
    from bot.service.limits import RateLimiter
    from bot.service.storage import Origin, open_storage

    storage = open_storage(tmp_path / "bot.sqlite3")
    asking = Asking(launch_engine, storage, RateLimiter(0, 0), conversations=new_store(clock=Clock()))
    where = Origin("telegram", "-100", "-100", "7")
    first = await asking.answer("What is Progress 71?", where)
    await asking.delivered(first, conversation="-100:1", message_ids=["-100:2"])
    # A reply to the bot's answer (message 2) continues; a question that replies to nothing does not.
    key = await asking.replied_to("telegram", "-100:2")
    follow_up = await asking.answer("When did it dock?", where, conversation=key)
    alone = await asking.answer("When did it dock?", where, conversation=await asking.replied_to("telegram", None))
    assert key == "-100:1" and follow_up.conversation == key
    assert follow_up.answer.answered and "November 18" in quoted_sentences(follow_up.answer.text)[0]
    assert not alone.answer.answered
    remembered = asking.conversations.history("telegram", key)
    assert [turn.question for turn in remembered] == ["What is Progress 71?"]  # not delivered yet
    storage.close()
