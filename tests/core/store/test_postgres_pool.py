"""One retry after a lost connection, and only when it is safe: ``postgres_pool.retrying``."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from bot.core.store import postgres_pool
from bot.core.store.postgres_pool import connection_lost, retrying

LOST = psycopg.OperationalError("server closed the connection unexpectedly")


class Flaky:
    """Fails with ``errors`` in turn, then returns how many calls it took."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.calls


def counts() -> tuple[int, int]:
    return postgres_pool.ERRORS["test"], postgres_pool.RETRIES["test"]


def test_a_lost_connection_is_retried_once_and_counted():
    before = counts()
    assert retrying("test", Flaky(LOST)) == 2
    assert counts() == (before[0] + 1, before[1] + 1)
    with pytest.raises(psycopg.OperationalError):
        retrying("test", Flaky(LOST, LOST))  # once, not forever
    assert counts() == (before[0] + 3, before[1] + 2)


def test_no_retry_when_not_a_lost_connection():
    for error in (psycopg.errors.UniqueViolation("duplicate key"), PoolTimeout("no connection in 15 s")):
        assert not connection_lost(error)
        statement = Flaky(error)
        with pytest.raises(type(error)):
            retrying("test", statement)
        assert statement.calls == 1
    assert connection_lost(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
