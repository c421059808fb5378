"""A fresh PostgreSQL database, created from template0 (no pgvector in it), with only the three
variables the README names: ``launchbot index`` creates the extension, builds, and the launch dev
set passes; a role that may not create the extension is told in one line what to run."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from bot.cli.main import main
from tests.helpers import DEV_SET, make_settings
from tests.servers import Server, database_url


def fresh_database(server: Server) -> tuple[str, str]:
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    return name, database_url(server.url, name)


@pytest.fixture
def home(tmp_path, monkeypatch):
    make_settings(tmp_path)  # the launch articles, copied
    for name in ("LAUNCHBOT_REDIS_URL", "LAUNCHBOT_CONFIG", "LAUNCHBOT_HOME"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_index_and_the_dev_set_on_a_fresh_database_with_only_the_readme_variables(
    postgres_server: Server, home, monkeypatch, capsys
):
    _, url = fresh_database(postgres_server)
    monkeypatch.setenv("LAUNCHBOT_DATABASE_URL", url)
    monkeypatch.setenv("LAUNCHBOT_INDEX_BACKEND", "postgres")
    monkeypatch.setenv("LAUNCHBOT_STATE_BACKEND", "postgres")
    assert main(["index", "--home", str(home)]) == 0
    assert main(["migrate-state", "--home", str(home)]) == 0  # nothing to migrate; the state schema is made
    capsys.readouterr()
    assert main(["ask", "--json", "--home", str(home), "Where was the rocket launched from?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answered"] and "Baikonur" in answer["answer"]
    assert main(["eval", str(DEV_SET), "--home", str(home), "--min-hit", "1", "--min-abstain", "1"]) == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vector'").fetchone()[0] == 1


def test_a_role_that_may_not_create_the_extension_is_told_what_to_run(
    postgres_server: Server, home, monkeypatch, capsys
):
    name, url = fresh_database(postgres_server)
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    monkeypatch.setenv("LAUNCHBOT_DATABASE_URL", url.replace("postgres@", f"{role}@"))
    monkeypatch.setenv("LAUNCHBOT_INDEX_BACKEND", "postgres")
    assert main(["index", "--home", str(home)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "CREATE EXTENSION vector" in line and name in line and role in line
