"""Running as a service: /healthz, /readyz and /metrics on the ops port, counting what the test sent
through the real Telegram application; readiness that follows a real PostgreSQL going down and
coming back; log lines stamped in UTC, as text or JSON, tokens redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.service.logs import JSONFormatter, UTCFormatter, install_redaction
from bot.service.ops import OpsServer
from bot.service.pgstorage import open_state
from bot.service.runtime import Services
from tests.servers import Server, create_database
from tests.telegram.botapi import TOKEN, message
from tests.telegram.test_telegram import QUESTION, harness_for


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


def on_port(services: Services) -> Services:
    """Ops port 0 (any free one), as ``ops.port`` would be set."""
    services.settings = services.settings.model_copy(
        update={"ops": services.settings.ops.model_copy(update={"port": 0})}
    )
    return services


async def test_metrics_count_what_the_test_sent(launch_engine, tmp_path):
    tg = await harness_for(launch_engine, tmp_path)
    server = OpsServer(on_port(tg.services))
    await server.start()
    try:
        members = [8101, 8102, 8103]
        for member in members:
            await tg.send(message(QUESTION, chat_id=member, user_id=member))
        await tg.send(message("Where was it launched from?", chat_id=members[0], user_id=members[0]))  # cooldown
        await tg.send(message("Again?", chat_id=members[0], user_id=members[0]))  # told once: dropped quietly
        await tg.send(message("x" * 600, chat_id=8104, user_id=8104))  # too long

        status, page = await get(server.port, "/metrics")
        assert status == 200
        found = samples(page)
        answered = found[("launchbot_questions_total", (("outcome", "answered"), ("platform", "telegram")))]
        declined = found.get(("launchbot_questions_total", (("outcome", "declined"), ("platform", "telegram"))), 0)
        assert answered + declined == 3 and answered >= 1
        assert found[("launchbot_answer_seconds_count", (("platform", "telegram"),))] == 3
        assert found[("launchbot_engine_seconds_count", ())] == 3
        refused = {
            (labels[1][1], labels[2][1]): value
            for (name, labels), value in found.items()
            if name == "launchbot_refusals_total"
        }
        assert refused == {("cooldown", "yes"): 1, ("cooldown", "no"): 1, ("problem", "yes"): 1}
        version = tg.services.engine.index.path.name
        assert found[("launchbot_index_info", (("backend", "faiss"), ("version", version)))] == 1
        assert 0 <= found[("launchbot_index_age_seconds", ())] < 3600
        assert found[("launchbot_limits_shared", ())] == 0  # no Redis: per process
        assert found[("launchbot_database_errors_total", (("store", "state"),))] >= 0
        assert found[("launchbot_questions_in_flight", ())] == 0

        assert await get(server.port, "/healthz") == (200, "ok\n")
        status, body = await get(server.port, "/readyz")
        assert status == 200 and json.loads(body)["checks"] == {"index": "ok", "state database": "ok"}
        tg.services.stop("SIGTERM")  # a stopping process tells the load balancer to look elsewhere
        status, body = await get(server.port, "/readyz")
        assert status == 503 and json.loads(body)["checks"]["process"] == "stopping"
    finally:
        await server.stop()
        await tg.application.shutdown()
        tg.services.storage.close()


async def test_readyz_follows_the_database_down_and_back(launch_engine, tmp_path, own_postgres: Server):
    settings = launch_engine.settings.model_copy(
        update={"state_backend": "postgres", "database_url": SecretStr(create_database(own_postgres.url))}
    )
    services = on_port(Services(settings, launch_engine, open_state(settings)))
    services.front_ends["telegram"] = lambda: True
    server = OpsServer(services)
    await server.start()
    try:
        assert (await get(server.port, "/readyz"))[0] == 200
        await asyncio.to_thread(own_postgres.down)
        try:
            status, body = await get(server.port, "/readyz")
            checks = json.loads(body)["checks"]
            assert status == 503 and checks["state database"] != "ok" and checks["index"] == "ok", checks
        finally:
            await asyncio.to_thread(own_postgres.up)
        deadline = time.monotonic() + 30  # the pool reconnects on its own
        while (status := (await get(server.port, "/readyz"))[0]) != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert status == 200
        assert services.storage.chats("telegram") == {}  # and the state database works again
    finally:
        await server.stop()
        services.close()


def test_log_lines_are_stamped_in_utc_as_text_or_json_and_keep_tokens_out():
    logger = logging.getLogger("bot.service.asking")
    out = {fmt: io.StringIO() for fmt in ("text", "json")}
    handlers = []
    for fmt, stream in out.items():
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JSONFormatter() if fmt == "json" else UTCFormatter())
        handlers.append(handler)
        logger.addHandler(handler)
    install_redaction(TOKEN, *handlers)
    fields = {"question_id": 7, "platform": "telegram", "outcome": "answered", "latency_ms": 12.5}
    try:
        logger.warning("question %d answered in %.0f ms", 7, 12.5, extra=fields)
        logger.warning("calling https://api.telegram.org/bot%s/sendMessage", TOKEN)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    text = out["text"].getvalue().splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING bot\.service\.asking: question 7", text[0])
    first, second = (json.loads(line) for line in out["json"].getvalue().splitlines())
    assert first["time"].endswith("Z") and abs(time.time() - _epoch(first["time"])) < 60
    assert {key: first[key] for key in fields} == fields and first["level"] == "WARNING"
    assert TOKEN not in out["json"].getvalue() + out["text"].getvalue() and "[redacted]" in second["message"]


def _epoch(stamp: str) -> float:
    import calendar

    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))


def test_a_log_format_from_dotenv_switches_the_handlers_already_made(monkeypatch):
    from bot.service.logs import log_format, use_format

    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(UTCFormatter())
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    use_format(log_format("json"))
    assert isinstance(handler.formatter, JSONFormatter)
    with pytest.raises(ValueError, match="LAUNCHBOT_LOG_FORMAT"):
        log_format("xml")
