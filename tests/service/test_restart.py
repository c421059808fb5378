"""PostgreSQL restarted while two bot processes answer from it: no question fails.

Two processes as webhook mode runs them (tests/telegram/test_processes.py): each its own engine on
the PostgreSQL index (its own connections), its own state store on the same database, its own
Telegram application. Members keep asking both while the server stops (fast shutdown, as
``pg_ctl restart`` and systemd do: every session is ended), stays down a second, and starts again.
Every question gets its answer; none gets the apology."""

from __future__ import annotations

import asyncio
import itertools
import time

from pydantic import SecretStr

from bot.core.engine import Engine
from bot.service.pgstorage import open_state
from tests.servers import Server, create_database
from tests.telegram.botapi import message
from tests.telegram.test_telegram import harness_for

QUESTIONS = [
    "Where was the rocket launched from?",
    "When did Progress 71 dock?",
    "Which astronaut recorded the launch video?",
    "What is Progress 71?",
]
_members = itertools.count(60_000)


async def test_a_postgres_restart_while_two_processes_answer_fails_no_question(
    embedder, tmp_path, own_postgres: Server
):
    url = create_database(own_postgres.url)
    harnesses = []
    for number in range(2):
        settings = _on_postgres(tmp_path, url)
        engine = Engine(settings, embedder)
        engine.open()  # the first builds the shared index, the second loads it
        state = open_state(settings)
        harnesses.append(await harness_for(engine, tmp_path / str(number), state, user_cooldown_seconds=0))
    sent: list[tuple[float, float, list]] = []  # (when asked, when answered, the Bot API calls made)

    async def keep_asking(harness, seconds: float) -> None:
        stop = time.monotonic() + seconds
        for n in itertools.count():
            if time.monotonic() > stop:
                return
            member = next(_members)
            asked = time.monotonic()
            calls = await harness.send(message(QUESTIONS[n % len(QUESTIONS)], chat_id=member, user_id=member))
            sent.append((asked, time.monotonic(), calls))

    restarted: list[float] = []

    def restart() -> None:
        time.sleep(1.5)
        restarted.append(time.monotonic())
        own_postgres.restart(seconds_down=1.0)
        restarted.append(time.monotonic())

    try:
        await asyncio.gather(*(keep_asking(h, 7.0) for h in harnesses), asyncio.to_thread(restart))
    finally:
        for harness in harnesses:
            await harness.application.shutdown()
            harness.services.close()
            harness.services.engine.close()
    answers = [[c.params["text"] for c in calls if c.method == "sendMessage"] for _, _, calls in sent]
    assert all(len(texts) == 1 and "Sorry" not in texts[0] for texts in answers), answers
    down, up = restarted
    assert any(asked <= up and answered >= down for asked, answered, _ in sent)  # across the restart
    assert any(asked > up for asked, _, _ in sent)
    for harness in harnesses:
        failed = harness.services.metrics.questions.labels("telegram", "failed")._value.get()
        assert failed == 0
    assert len(sent) >= 8


def _on_postgres(tmp_path, url: str):
    from tests.helpers import make_settings

    return make_settings(tmp_path).model_copy(
        update={"index_backend": "postgres", "state_backend": "postgres", "database_url": SecretStr(url)}
    )
