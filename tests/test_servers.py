"""``python -m tests.servers``: prints every variable to export, and stops both servers and exits 0 on
SIGINT or SIGTERM, even when started with SIGINT ignored (as a shell starts a background job)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from tests.helpers import REPO


def listening(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((parts.hostname, parts.port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_tests_servers_prints_every_export_and_stops_both_on_a_signal(sig):
    servers = subprocess.Popen(
        [sys.executable, "-m", "tests.servers"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # a background job's inheritance
    )
    try:
        exports = {}
        for line in servers.stdout:
            if line.startswith("#"):
                break
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value
        if servers.poll() is not None and not exports:
            problem = servers.stderr.read()
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(problem)
            pytest.skip(problem)
        assert set(exports) == {
            "LAUNCHBOT_DATABASE_URL",
            "LAUNCHBOT_REDIS_URL",
            "LAUNCHBOT_INDEX_BACKEND",
            "LAUNCHBOT_STATE_BACKEND",
        }
        assert exports["LAUNCHBOT_INDEX_BACKEND"] == exports["LAUNCHBOT_STATE_BACKEND"] == "postgres"
        urls = [exports["LAUNCHBOT_DATABASE_URL"], exports["LAUNCHBOT_REDIS_URL"]]
        assert all(listening(url) for url in urls)
        servers.send_signal(sig)
        assert servers.wait(60) == 0
    finally:
        if servers.poll() is None:
            servers.kill()
    assert "stopped PostgreSQL and Redis" in servers.stdout.read()
    assert not any(listening(url) for url in urls)
