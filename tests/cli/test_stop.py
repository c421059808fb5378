"""``launchbot telegram`` as a service, in its own process against a Bot API server on 127.0.0.1: a
stop signal that arrives while an answer is being made still sends that answer, turns /readyz
unready at once, and exits 0 with one line and no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.helpers import REPO
from tests.servers import free_port
from tests.telegram.botapi import BOT, TOKEN, message

QUESTION = "Where was the rocket launched from?"
MEMBER = 4711


class BotAPIServer(ThreadingHTTPServer):
    """Telegram's Bot API over HTTP, as much as a polling bot uses: one question in ``getUpdates``,
    and ``sendChatAction`` ("typing…", sent before the answer is made) held for ``hold`` seconds,
    so the test's signal lands while the answer is in flight."""

    def __init__(self, hold: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hold = hold
        self.update = message(QUESTION, chat_id=MEMBER, user_id=MEMBER)
        self.delivered = False
        self.typing = threading.Event()
        self.sent: list[dict] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/bot"


class _Handler(BaseHTTPRequestHandler):
    server: BotAPIServer

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        method = self.path.rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        params = {key: values[0] for key, values in parse_qs(body).items()}
        result: object = True
        if method == "getMe":
            result = {**BOT, "can_join_groups": True, "can_read_all_group_messages": False}
        elif method == "getUpdates":
            if self.server.delivered:
                time.sleep(0.2)
                result = []
            else:
                self.server.delivered = True
                result = [self.server.update]
        elif method == "sendChatAction":
            self.server.typing.set()
            time.sleep(self.server.hold)
        elif method == "sendMessage":
            self.server.sent.append(params)
            chat = {"id": MEMBER, "type": "private"}
            result = {"message_id": 99, "date": int(time.time()), "chat": chat, "from": BOT, "text": params.get("text")}
        reply = json.dumps({"ok": True, "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        with contextlib.suppress(OSError):  # a long poll the bot gave up on as it stopped
            self.wfile.write(reply)


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_during_an_answer_sends_it_and_exits_0(launch_engine, tmp_path, sig):
    api = BotAPIServer(hold=1.5)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    port = free_port()
    settings = launch_engine.settings
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TELEGRAM_TOKEN": TOKEN,
        "LAUNCHBOT_TELEGRAM__BASE_URL": api.base_url,
        "LAUNCHBOT_CHAT__DATABASE": str(tmp_path / "state.sqlite3"),
        "LAUNCHBOT_OPS__PORT": str(port),
        "LAUNCHBOT_OPS__DRAIN_SECONDS": "20",
    }
    command = [sys.executable, "-m", "bot.cli.main", "telegram", "--home", str(tmp_path)]
    command += ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]
    bot = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert api.typing.wait(120), bot.stderr.read() if bot.poll() is not None else "no question taken"
        assert readyz(port) == 200
        bot.send_signal(sig)  # the answer is being made: "typing…" is still being sent
        time.sleep(0.3)
        assert readyz(port) == 503  # stopping: a load balancer sends updates elsewhere
        code = bot.wait(60)
    finally:
        if bot.poll() is None:
            bot.kill()
        api.shutdown()
    stderr = bot.stderr.read()
    assert code == 0, stderr
    [answer] = api.sent
    assert "Baikonur" in answer["text"] and answer["chat_id"] == str(MEMBER)
    assert "Traceback" not in stderr and "CRITICAL" not in stderr, stderr
    [stopped] = [line for line in stderr.splitlines() if " stopped on " in line]
    assert f"stopped on {sig.name}: the 1 question(s) in flight answered and sent" in stopped
    assert "connections closed" in stopped and stopped.split()[0].endswith("Z")  # stamped in UTC
