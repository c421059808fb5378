"""PostgreSQL connections for both stores that keep data there: this index (``index_backend:
postgres``) and the service's state (``state_backend: postgres``, which reaches this module through
``bot.core.engine.postgres_connections``). A pool checks each connection before handing it out, and
an operation whose connection was lost is retried once, transparently, when that is safe.

Why both: a PostgreSQL restart (an upgrade, a failover, ``pg_ctl restart``) ends every open
connection. The check finds a stale connection before a question uses it (one empty round trip),
and the pool opens a new one, waiting up to ``WAIT_SECONDS`` for the server to come back. A server
that goes away *while* a query runs still fails that query: it is retried once on a fresh
connection; the caller makes that safe (a read; an idempotent write; a new row looked for before it
is written again, since a COMMIT whose reply was lost may have happened). Everything else is raised
as before.

The errors and retries per store are counted here, in plain integers, for ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

logger = logging.getLogger(__name__)

T = TypeVar("T")

WAIT_SECONDS = 15.0  # how long an operation waits for a connection (a restarting server comes back)
CONNECT_SECONDS = 10  # connect_timeout of each new connection
# Counted per store ("index", "state") since the process started; read by /metrics.
ERRORS: Counter[str] = Counter()
RETRIES: Counter[str] = Counter()
_counting = threading.Lock()

# SQLSTATE classes and codes that mean the connection, not the statement, failed.
_LOST_CLASSES = ("08",)  # connection exception
_LOST_CODES = {"57P01", "57P02", "57P03"}  # admin shutdown, crash shutdown, cannot connect now


def open_pool(
    url: str,
    *,
    store: str,
    max_size: int,
    configure: Callable[[psycopg.Connection], None] | None = None,
    probe: bool = True,
) -> ConnectionPool:
    """A pool of autocommit connections to ``url`` (1 kept open, up to ``max_size``; ``configure``
    runs on each new one). Connects once first, so a wrong URL or a server that is down is reported
    at start-up in PostgreSQL's own words rather than as a pool timeout (``probe``: unless the caller
    just did)."""
    if probe:
        psycopg.connect(url, connect_timeout=CONNECT_SECONDS).close()
    return ConnectionPool(
        url,
        min_size=1,
        max_size=max(1, max_size),
        kwargs={"autocommit": True, "connect_timeout": CONNECT_SECONDS},
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=WAIT_SECONDS,
        name=f"launchbot-{store}",
        open=True,
    )


def connection_lost(error: BaseException) -> bool:
    """True when ``error`` says the connection failed (the server restarted or went away), not the
    statement; waiting for the pool is not one: it has already waited."""
    if not isinstance(error, psycopg.OperationalError) or isinstance(error, PoolTimeout | PoolClosed):
        return False
    code = error.sqlstate
    return code is None or code.startswith(_LOST_CLASSES) or code in _LOST_CODES


def retrying(store: str, operation: Callable[[], T]) -> T:
    """Run ``operation``; if its connection is lost, run it once more on a fresh connection (the
    caller makes a second run safe). Every database error is counted."""
    try:
        return operation()
    except psycopg.Error as error:
        count(ERRORS, store)
        if not connection_lost(error):
            raise
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.warning("%s database: connection lost (%s); retrying once on a new connection", store, first)
    count(RETRIES, store)
    try:
        return operation()
    except psycopg.Error:
        count(ERRORS, store)
        raise


def count(counter: Counter[str], store: str) -> None:
    with _counting:
        counter[store] += 1
