"""A real browser for tests: headless Chromium (Debian's ``chromium``) driven over the DevTools
protocol, to open a page as a maintainer would and report what went wrong: script errors, console
errors, failed loads, images that did not decode. It also takes a full-page screenshot.

No test dependency beyond what the bot already has: the protocol's websocket is aiohttp's (discord.py
brings it). Chromium runs with a throw-away profile and no network of its own to reach (a file page).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 30.0


class BrowserUnavailable(RuntimeError):
    """No Chromium on this machine (the message says what to install)."""


def find_chromium() -> str:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserUnavailable("no Chromium found (Debian: apt-get install -y chromium)")


@dataclass
class Rendered:
    """What a page did when it loaded."""

    errors: list[str] = field(default_factory=list)  # script exceptions, console errors, failed loads
    images: list[dict] = field(default_factory=list)  # each <img>: complete, naturalWidth, alt
    title: str = ""
    text: str = ""  # the page's visible text
    rows: int = 0  # table body rows


async def render(page: Path, screenshot: Path, width: int = 1280) -> Rendered:
    """Open ``page`` (a local file) in headless Chromium, wait for it to load, collect what went
    wrong, and save a full-page PNG screenshot to ``screenshot``."""
    chromium = find_chromium()
    profile = tempfile.mkdtemp(prefix="launchbot-chromium-")
    args = [
        chromium,
        "--headless=new",
        "--no-sandbox",  # as root in a container, Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = await asyncio.wait_for(asyncio.to_thread(_devtools_port, process), START_TIMEOUT)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json(content_type=None)
            target = next(t for t in targets if t.get("type") == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                return await _load(_Protocol(socket), page, screenshot, width)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(process: subprocess.Popen) -> int:
    """Chromium prints "DevTools listening on ws://127.0.0.1:PORT/..." once it is ready."""
    for line in process.stderr:
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # never block on a full pipe
            return int(found[1])
    raise BrowserUnavailable(f"Chromium exited before it was ready (exit status {process.wait()})")


class _Protocol:
    """Commands and events over one DevTools websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def call(self, method: str, **params) -> dict:
        number = next(self.ids)
        await self.socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads((await self.socket.receive()).data)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    async def wait_for(self, method: str) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads((await self.socket.receive()).data)
            self.events.append(message)
            if message.get("method") == method:
                return message


async def _load(protocol: _Protocol, page: Path, screenshot: Path, width: int) -> Rendered:
    for domain in ("Page", "Runtime", "Log", "Network"):
        await protocol.call(f"{domain}.enable")
    viewport = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    await protocol.call("Emulation.setDeviceMetricsOverride", **viewport)
    await protocol.call("Page.navigate", url=page.resolve().as_uri())
    await asyncio.wait_for(protocol.wait_for("Page.loadEventFired"), LOAD_TIMEOUT)
    script = """JSON.stringify({
        images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth, alt: i.alt})),
        title: document.title, text: document.body.innerText, rows: document.querySelectorAll("tbody tr").length})"""
    found = await protocol.call("Runtime.evaluate", expression=script, returnByValue=True)
    seen = json.loads(found["result"]["value"])
    metrics = await protocol.call("Page.getLayoutMetrics")
    size = metrics["cssContentSize"]
    shot = await protocol.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
    )
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    return Rendered(_errors(protocol.events), seen["images"], seen["title"], seen["text"], seen["rows"])


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(f"script error: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
            errors.append(f"console {params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
