"""``python -m benchmarks.load``: ``launchbot serve`` with Discord and Telegram at once, under open-loop load.

What runs is the real process body, ``bot.cli.serve.run``: one engine (the default model, and
whatever answering main has), the state database, the limits, the asking flow, the health and
metrics port, python-telegram-bot's ``Application`` polling for updates and the Discord client's
``Ask`` cog. Only the two platforms are stand-ins, in the same process:

- Telegram: the Bot API of ``tests/telegram/botapi.py``, whose ``getUpdates`` hands out the load's
  messages as Telegram's long polling does; every call goes through the bot's ``AIORateLimiter``
  and send queue, as in production (private chats: a member's cooldown is the only limit there);
- Discord: the gateway is not simulated; each message is dispatched to the client as discord.py
  dispatches a MESSAGE_CREATE (``client.dispatch("message", …)``), a spec'd ``discord.Message``
  mentioning the bot in an enabled channel of one of ``--guilds`` servers, whose ``reply`` records
  the answer.

Open loop: questions arrive at a fixed rate whatever the answers do, alternating platforms, each
from a member drawn at random from ``--users`` per platform (so cooldowns and the servers' quotas
refuse a few, as they would). For each rate, ``--seconds`` of arrivals, then up to ``--settle``
seconds for the last answers. A question's latency runs from the moment its update is available
(handed to the poller, or dispatched) to the moment the platform accepted its answer (the asking
flow's ``delivered``, which is followed for every question). Reported per rate: answered (an answer
or a decline delivered), refused (a refusal told), dropped (nothing sent: a refusal not told again
within its window, as designed, or lost), failed (an apology), p50 / p95 / p99, this process's CPU
and the machine's load; and the highest rate that held, with every lower one: p99 under 1 s,
nothing lost, nothing failed. The floor, measured just before each rate in the same run: the
engine alone answering the same questions back-to-back on ``chat.answer_workers`` threads, the
most the CPUs it gets allow.

``--postgres`` runs on a real PostgreSQL (index and state) and Redis from ``tests.servers``;
``--restart-postgres`` also restarts PostgreSQL (1 s down) in the middle of every rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import discord
import numpy as np
import yaml
from pydantic import SecretStr

import bot.cli.serve
import bot.telegram.app
from benchmarks.common import OUT, REPO, machine_info, percentile_ms
from bot.config import Settings
from bot.core.engine import Engine
from bot.discord.app import LaunchBot
from bot.discord.exts.ask import Ask
from bot.service.runtime import Services
from bot.service.storage import ChatConfig
from tests.helpers import MockGuild, MockMember, MockMessage, MockTextChannel
from tests.telegram.botapi import TOKEN, BotAPI, message

logger = logging.getLogger(__name__)

QUESTION_SETS = ("dev_qa.yaml", "hindi_qa.yaml", "launch_calibration.yaml")
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.not-a-real-token"
BOT_USER_ID = 4242
P99_GOAL = 1.0  # seconds


@dataclass
class Question:
    platform: str
    member: str
    offered: float = 0.0
    done: float | None = None
    outcome: str = ""  # answered (or declined), refused (told), held back (not told again), failed; "": lost


@dataclass
class Step:
    rate: float
    offered: int = 0
    answered: int = 0  # an answer (or a decline: the articles do not say) delivered
    refused: int = 0  # a refusal told (cooldown, the server's quota)
    dropped: int = 0  # nothing sent: a refusal not told again within its window, or lost
    lost: int = 0  # of those, the ones the service did not drop on purpose
    failed: int = 0  # the apology
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    p99_ms: float = float("nan")
    p99_by_platform: dict[str, float] = field(default_factory=dict)
    floor_qps: float = float("nan")  # the engine alone, measured just before this step
    cpu: float = float("nan")  # this process's CPU seconds per second of the step (2 = both cores)
    load_average: float = float("nan")  # the machine's, at the end of the step

    @property
    def sustained(self) -> bool:
        return self.p99_ms < P99_GOAL * 1000 and not self.lost and not self.failed


class TelegramStandIn(BotAPI):
    """The Bot API: ``getUpdates`` long-polls the load's updates, as Telegram's servers do."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict] = []
        self.arrived = asyncio.Event()

    def offer(self, update: dict) -> None:
        self.updates.append(update)
        self.arrived.set()

    async def do_request(self, url: str, method: str, request_data=None, *args, **kwargs):
        if url.endswith("/getUpdates"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 1.0)
            self.arrived.clear()
            batch, self.updates = self.updates[:100], self.updates[100:]
            if self.updates:
                self.arrived.set()
            return 200, json.dumps({"ok": True, "result": batch}).encode()
        answer = await super().do_request(url, method, request_data, *args, **kwargs)
        self.calls.clear()  # nothing reads them back: memory stays flat over a long run
        return answer


class Load:
    """The questions, the two stand-ins, and the schedule."""

    def __init__(self, args: argparse.Namespace, questions: list[str], restart: Callable[[], None] | None) -> None:
        self.args = args
        self.questions = questions
        self.restart = restart
        self.rng = random.Random(2018)
        self.telegram = TelegramStandIn()
        self.discord: LaunchBot | None = None
        self.services: Services | None = None
        self.ready = asyncio.Event()
        self.unchecked: dict[tuple[str, str], list[Question]] = {}  # per member: arrived, not yet checked
        self.accepted: dict[tuple[str, str], list[Question]] = {}  # per member: accepted, not yet sent
        self.steps: list[Step] = []
        self.questions_seen: list[Question] = []
        guilds = [MockGuild() for _ in range(args.guilds)]
        self.channels = [MockTextChannel(guild=guild) for guild in guilds]

    # ------------------------------------------------------------------ what happened to each question

    def watch(self, services: Services) -> None:
        """Follow each question through the asking flow both front ends share: refused, or accepted
        and then delivered (the platform took every piece of the answer) or failed. A member has
        one question accepted at a time (their cooldown), so questions are matched per member."""
        self.services = services
        asking = services.asking
        refusal, answer, delivered = asking.refusal, asking.answer, asking.delivered

        def checked(question: str, origin, **kwargs):
            refused = refusal(question, origin, **kwargs)
            queue = self.unchecked.get((origin.platform, origin.user_id))
            if queue:
                asked = queue.pop(0)
                if refused is None:
                    self.accepted.setdefault((origin.platform, origin.user_id), []).append(asked)
                else:
                    _settle(asked, "refused" if refused.notify else "held back")
            return refused

        async def answered(question: str, origin, **kwargs):
            try:
                return await answer(question, origin, **kwargs)
            except Exception:
                queue = self.accepted.get((origin.platform, origin.user_id))
                if queue:
                    _settle(queue.pop(0), "failed")
                raise

        async def sent(asked, **kwargs):
            queue = self.accepted.get((asked.origin.platform, asked.origin.user_id))
            if queue:
                _settle(queue.pop(0), "answered")
            return await delivered(asked, **kwargs)

        asking.refusal, asking.answer, asking.delivered = checked, answered, sent

    def discord_message(self, channel: MockTextChannel, user_id: int, text: str) -> MockMessage:
        member = MockMember(id=user_id, guild=channel.guild)
        msg = MockMessage(channel=channel, guild=channel.guild, author=member, content=f"<@{BOT_USER_ID}> {text}")
        msg.reply.return_value = MockMessage(channel=channel)
        return msg

    # ------------------------------------------------------------------ the schedule

    async def drive(self) -> None:
        await self.ready.wait()
        while self.services is None:  # Telegram's application is built a moment after Discord starts
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the poller's first getUpdates
        try:
            workers = self.services.settings.chat.answer_workers
            for rate in self.args.rates:
                floor = await asyncio.to_thread(
                    engine_floor, self.services.engine, self.questions, workers, self.args.floor_seconds
                )
                step = await self.step(rate)
                step.floor_qps = round(floor[0], 1)
                self.steps.append(step)
                print(_row(step), flush=True)
                if step.p99_ms > self.args.give_up_ms:
                    break
        finally:
            self.services.stop("end of the benchmark")

    async def step(self, rate: float) -> Step:
        count = max(1, round(rate * self.args.seconds))
        plan = self._plan(count)
        interval = 1.0 / rate
        loop = asyncio.get_running_loop()
        restart = None
        cpu = time.process_time()
        started = loop.time()
        for number, (platform, payload) in enumerate(plan):
            await asyncio.sleep(max(0.0, started + number * interval - loop.time()))
            if self.restart is not None and restart is None and number >= count // 2:
                restart = asyncio.create_task(asyncio.to_thread(self.restart))
            question, arrival = payload
            question.offered = time.monotonic()
            self.unchecked.setdefault((platform, question.member), []).append(question)
            if platform == "telegram":
                self.telegram.offer(arrival)
            else:
                self.discord.dispatch("message", arrival)  # as discord.py does for a MESSAGE_CREATE
            self.questions_seen.append(question)
        deadline = loop.time() + self.args.settle
        asked = self.questions_seen[-count:]
        while loop.time() < deadline and any(q.done is None for q in asked):
            await asyncio.sleep(0.1)
        step = _summary(rate, asked)
        step.cpu = (time.process_time() - cpu) / (loop.time() - started)
        step.load_average = os.getloadavg()[0]
        if restart is not None:
            await restart
        await asyncio.sleep(0.5)
        return step

    def _plan(self, count: int) -> list[tuple[str, object]]:
        """Every arrival of a step, made before it starts (making a spec'd mock costs milliseconds)."""
        plan = []
        for number in range(count):
            text = self.rng.choice(self.questions)
            user = 10_000 + self.rng.randrange(self.args.users)
            platform = self.args.only or ("telegram" if number % 2 == 0 else "discord")
            if platform == "telegram":
                arrival = message(text, chat_id=user, user_id=user)  # a private chat
                plan.append(("telegram", (Question("telegram", str(user)), arrival)))
            else:
                arrival = self.discord_message(self.rng.choice(self.channels), user, text)
                plan.append(("discord", (Question("discord", str(user)), arrival)))
        return plan

    # ------------------------------------------------------------------ inside `launchbot serve`

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The two platform clients replaced by the stand-ins while ``serve`` runs."""
        load, real_build, real_start = self, bot.telegram.app.build_application, LaunchBot.start

        def build(services, secret, **kwargs):
            load.watch(services)
            return real_build(services, secret, request=load.telegram)

        async def start(client: LaunchBot, token: str, **kwargs) -> None:
            client._connection.user = discord.ClientUser(
                state=client._connection,
                data={"id": BOT_USER_ID, "username": "launchbot", "discriminator": "0", "avatar": None, "bot": True},
            )
            await client.add_cog(Ask(client))
            for channel in load.channels:
                client.channel_configs[channel.id] = ChatConfig(str(channel.guild.id), enabled=True)
            client._ready.set()
            load.discord = client
            load.ready.set()
            driving = asyncio.create_task(load.drive(), name="load")
            await client.services.stopping.wait()
            await driving

        bot.telegram.app.build_application, LaunchBot.start = build, start
        try:
            yield
        finally:
            bot.telegram.app.build_application, LaunchBot.start = real_build, real_start


def _settle(question: Question, outcome: str) -> None:
    if question.done is None:
        question.done, question.outcome = time.monotonic(), outcome


def sustained(steps: list[Step]) -> float:
    """The highest rate that held, and every lower one too (one bad minute on a shared machine ends it)."""
    best = 0.0
    for step in sorted(steps, key=lambda step: step.rate):
        if not step.sustained:
            break
        best = step.rate
    return best


def _summary(rate: float, asked: list[Question]) -> Step:
    step = Step(rate, offered=len(asked))
    latencies: dict[str, list[float]] = {}
    for question in asked:
        if question.outcome == "answered":
            step.answered += 1
            latencies.setdefault(question.platform, []).append(question.done - question.offered)
        elif question.outcome == "refused":
            step.refused += 1
        elif question.outcome == "failed":
            step.failed += 1
        else:
            step.dropped += 1
            step.lost += question.outcome != "held back"
    every = [latency for platform in latencies.values() for latency in platform]
    if every:
        step.p50_ms, step.p95_ms, step.p99_ms = (percentile_ms(every, q) for q in (50, 95, 99))
        step.p99_by_platform = {name: round(percentile_ms(values, 99)) for name, values in latencies.items()}
    return step


def _row(step: Step) -> str:
    return (
        f"{step.rate:6.1f} q/s ({step.rate * 60:5.0f}/min)  offered {step.offered:5d}  answered {step.answered:5d}  "
        f"refused {step.refused:3d}  dropped {step.dropped:3d} (lost {step.lost})  failed {step.failed}  "
        f"p50 {step.p50_ms:6.0f} ms  p95 {step.p95_ms:6.0f} ms  p99 {step.p99_ms:6.0f} ms {step.p99_by_platform}  "
        f"cpu {step.cpu:.2f}  load {step.load_average:.1f}  engine alone {step.floor_qps:.1f} q/s  "
        f"{'sustained' if step.sustained else ''}"
    )


def engine_floor(engine: Engine, questions: list[str], workers: int, seconds: float) -> tuple[float, float]:
    """(questions a second, p50 seconds) of the engine alone on ``workers`` threads, back-to-back."""
    stop, latencies, lock = time.monotonic() + seconds, [], threading.Lock()

    def work(offset: int) -> None:
        n = offset
        while time.monotonic() < stop:
            started = time.perf_counter()
            engine.answer(questions[n % len(questions)])
            with lock:
                latencies.append(time.perf_counter() - started)
            n += workers

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.monotonic() - started), float(np.median(latencies))


def launch_questions() -> list[str]:
    questions = []
    for name in QUESTION_SETS:
        data = yaml.safe_load((REPO / "tests" / "data" / name).read_text(encoding="utf-8"))
        questions += [item["question"] for item in data.get("items", []) if item.get("question")]
    return questions


def _git_head() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=True
        ).stdout.strip()[:100]
    return "?"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="8,16,24,32,40,48,64", help="questions a second, in order")
    parser.add_argument("--seconds", type=float, default=20.0, help="arrivals per rate (default 20 s)")
    parser.add_argument("--settle", type=float, default=15.0, help="wait for the last answers (default 15 s)")
    parser.add_argument("--users", type=int, default=20_000, help="members per platform asking (default 20,000)")
    parser.add_argument("--guilds", type=int, default=200, help="Discord servers they ask in (default 200)")
    parser.add_argument("--give-up-ms", type=float, default=5000, help="stop once a rate's p99 passes this")
    parser.add_argument("--floor-seconds", type=float, default=4.0, help="the engine-alone floor, before each rate")
    parser.add_argument("--only", choices=("discord", "telegram"), help="all the load on one platform")
    parser.add_argument("--postgres", action="store_true", help="index and state on PostgreSQL, limits in Redis")
    parser.add_argument("--restart-postgres", action="store_true", help="restart PostgreSQL mid-way through each rate")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    args.rates = [float(rate) for rate in args.rates.split(",")]
    args.postgres = args.postgres or args.restart_postgres
    return args


def run(args: argparse.Namespace, engine: Engine | None = None) -> tuple[dict, list[Step]]:
    """Build the index, measure the floor, run ``serve`` under the load; (facts, one Step per rate).
    ``engine``: an opened engine over the launch articles to use instead (the smoke test)."""
    questions = launch_questions()
    facts: dict = {"main": _git_head(), "machine": machine_info()}
    servers: list = []
    with tempfile.TemporaryDirectory(prefix="launchbot-load-") as tmp:
        try:
            root = Path(tmp)
            settings, restart = _settings(root, args, servers, engine.settings if engine else None)
            if engine is None:
                engine = Engine(settings)
                engine.open()
            facts |= {"model": engine.embedder.name, "index": engine.index.path.name, "state": settings.state_backend}
            rate, p50 = engine_floor(engine, questions, settings.chat.answer_workers, args.floor_seconds)
            facts["floor"] = {"engine_questions_per_second": round(rate, 1), "engine_p50_ms": round(p50 * 1000, 1)}
            print(
                f"floor: the engine alone answers {rate:.1f} q/s ({rate * 60:.0f}/min), p50 {p50 * 1000:.0f} ms "
                f"(measured again before each rate: the machine is shared)"
            )
            load = Load(args, questions, restart)
            started = time.monotonic()
            with load.installed():
                code = bot.cli.serve.run(settings, engine=engine)
            facts["stop"] = {"exit": code, "seconds": round(time.monotonic() - started, 1)}
            facts["metrics"] = _counted(load.services)
        finally:
            for server in servers:
                server.stop()
    facts["sustained_questions_per_second"] = sustained(load.steps)
    return facts, load.steps


def _settings(
    root: Path, args: argparse.Namespace, servers: list, settings: Settings | None
) -> tuple[Settings, Callable[[], None] | None]:
    """Both tokens (for the stand-ins), the ops port, and the databases: SQLite and FAISS files, or a
    real PostgreSQL (index and state) and Redis, started here (``servers``)."""
    if settings is None:
        shutil.copytree(REPO / "knowledge", root / "knowledge")
        settings = Settings(knowledge_dir=root / "knowledge", index_dir=root / "index")
    update: dict = {
        "discord_token": SecretStr(DISCORD_TOKEN),
        "telegram_token": SecretStr(TOKEN),
        "chat": settings.chat.model_copy(update={"database": root / "state.sqlite3"}),
        "ops": settings.ops.model_copy(update={"port": 0}),
    }
    restart = None
    if args.postgres:
        from tests.servers import ServerUnavailable, create_database, start_postgres, start_redis

        servers.append(start_postgres(root / "pg"))
        update |= {"index_backend": "postgres", "state_backend": "postgres"}
        update["database_url"] = SecretStr(create_database(servers[0].url))
        with contextlib.suppress(ServerUnavailable):
            servers.append(start_redis())
            update["redis_url"] = SecretStr(servers[-1].url)
        if args.restart_postgres:
            restart = lambda: servers[0].restart(1.0)  # noqa: E731
    return settings.model_copy(update=update), restart


def _counted(services: Services | None) -> dict[str, float]:
    """The process's own counts from /metrics: questions by outcome, database errors and retries."""
    if services is None:
        return {}
    from prometheus_client.parser import text_string_to_metric_families

    wanted = ("launchbot_questions_total", "launchbot_database_errors_total", "launchbot_database_retries_total")
    counted: dict[str, float] = {}
    for family in text_string_to_metric_families(services.metrics.text().decode()):
        for sample in family.samples:
            if sample.name in wanted:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                counted[f"{sample.name}{{{labels}}}"] = sample.value
    return counted


def markdown(steps: list[Step]) -> str:
    lines = [
        "| rate | offered | answered | refused | dropped (lost) | failed | p50 | p95 | p99 | CPU, cores | load"
        " | engine alone |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in steps:
        lines.append(
            f"| {s.rate:g}/s ({s.rate * 60:.0f}/min) | {s.offered} | {s.answered} | {s.refused} | "
            f"{s.dropped} ({s.lost}) | {s.failed} | {s.p50_ms:.0f} ms | {s.p95_ms:.0f} ms | {s.p99_ms:.0f} ms | "
            f"{s.cpu:.2f} | {s.load_average:.1f} | {s.floor_qps:.1f}/s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    if not args.verbose:  # `serve` logs every question at INFO: only its stop line is wanted here
        for name in ("bot", "telegram", "httpx", "discord"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("bot.service.runtime").setLevel(logging.INFO)
    facts, steps = run(args)
    facts["command"] = " ".join(["python -m benchmarks.load", *(argv if argv is not None else sys.argv[1:])])
    best = facts["sustained_questions_per_second"]
    floor = next((step.floor_qps for step in steps if step.rate == best), facts["floor"]["engine_questions_per_second"])
    print(f"\n{markdown(steps)}\n")
    print(f"highest sustained rate (p99 < {P99_GOAL:g} s, nothing lost): {best:g} q/s = {best * 60:.0f} a minute;")
    print(f"the engine alone then: {floor:g} q/s (ratio {best / floor:.2f}); counted by /metrics: {facts['metrics']}")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"facts": facts, "steps": [asdict(s) for s in steps]}, indent=1, default=str))
    print(f"wrote {path}")
    return facts["stop"]["exit"]


if __name__ == "__main__":
    sys.exit(main())
