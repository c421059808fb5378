"""Test helpers: paths, settings over throwaway copies of the knowledge base, and spies."""

from __future__ import annotations

import itertools
import re
import shutil
import unittest.mock
from functools import cache
from pathlib import Path

import discord
import numpy as np
import pytest

from bot.config import FetchSettings, Settings
from bot.core.embed.embedding import Embedder
from bot.core.store.faiss_build import build_index
from bot.core.store.index import BuildReport, IndexSettings
from bot.service.runtime import Services

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
DEV_SET = REPO / "tests" / "data" / "dev_qa.yaml"
NEW_DOC = "---\ntitle: Docking\n---\nProgress 71 docked to the Zvezda module after a two-day chase.\n"
_QUOTE_OR_MARKER = re.compile(r"“[^“”]*”|\[\d+\]")

# Runs a front-end test on each state database: the ``state`` fixture (tests/conftest.py) is SQLite,
# then a fresh database on the real PostgreSQL server.
ON_BOTH_STATE_BACKENDS = pytest.mark.parametrize("state_backend", ["sqlite", "postgres"])


# Fetching in tests: the local test site, no per-host delay (one test checks the delay with a clock).
# The test site listens on 127.0.0.1, which the default settings refuse to fetch from.
TEST_FETCH = FetchSettings(
    contact="mailto:ops@example.org", host_delay_seconds=0, max_page_bytes=200_000, allow_private_addresses=True
)


def make_settings(root: Path, **overrides) -> Settings:
    knowledge = root / "knowledge"
    if not knowledge.exists():
        shutil.copytree(KNOWLEDGE, knowledge)
    overrides.setdefault("fetch", TEST_FETCH)
    return Settings(knowledge_dir=knowledge, index_dir=root / "index", **overrides)


def build_faiss_index(settings: Settings, embedder: Embedder, **kwargs) -> BuildReport:
    """Build the FAISS index of ``settings``, as `launchbot index` would (another process, to an engine)."""
    index_settings = IndexSettings(embedder.name, settings.chunk_size, settings.chunk_overlap)
    return build_index(settings.knowledge_dir, settings.index_dir, embedder, index_settings, **kwargs)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` and its bytes: what "changes nothing" is checked against."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def outside_quotes(text: str) -> str:
    """What an answer says in its own words: everything but “quotes”, [n] markers and spaces."""
    return _QUOTE_OR_MARKER.sub("", text).strip()


def mentions_launch_date(text: str) -> bool:
    """The launch date in any of the forms the articles use."""
    return any(form in text for form in ("November 16", "Nov. 16", "16 नवंबर"))


class CountingEmbedder(Embedder):
    """The real embedder, counting what it is asked to embed (a spy, not a fake)."""

    def __init__(self, inner: Embedder) -> None:
        self.__dict__.update(inner.__dict__)
        self.calls: list[int] = []

    def encode_passages(self, texts, progress: bool = False):
        self.calls.append(len(texts))
        return super().encode_passages(texts, progress)

    @property
    def embedded(self) -> int:
        return sum(self.calls)


class MemoEmbedder(Embedder):
    """The real model, each passage embedded once per test process: the tests' many index builds
    over the same articles then cost chunking and FAISS only. Vectors are the model's own (a cache,
    not a fake); tests about embedding itself make their own plain ``Embedder``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[str, np.ndarray] = {}

    def encode_passages(self, texts, progress=None):
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            self._memo.update(zip(missing, super().encode_passages(missing, progress), strict=True))
        if progress is not None:
            progress(len(texts))
        if not texts:
            return super().encode_passages(texts)
        return np.stack([self._memo[t] for t in texts])


# --------------------------------------------------------------------------- Discord mocks
# In the manner of python-discord/bot's tests/helpers.py: each mock is spec'd on the real discord.py
# class, so a test that touches an attribute or method the real object does not have fails loudly,
# and coroutine methods become AsyncMocks that record how they were awaited.

_ids = itertools.count(100_000_000_000_000_000)


def next_id() -> int:
    return next(_ids)


class CustomMockMixin:
    """Spec the mock on ``spec_set`` and make its children plain MagicMocks."""

    spec_set: object = None

    def __init__(self, **kwargs) -> None:
        name = kwargs.pop("name", None)
        super().__init__(spec_set=self.spec_set, **kwargs)
        if name is not None:
            self.name = name

    def _get_child_mock(self, **kwargs):
        """Coroutine methods of the spec'd class become AsyncMocks, everything else MagicMocks."""
        if kwargs.get("_new_name") in self.__dict__.get("_spec_asyncs", ()):
            return unittest.mock.AsyncMock(**kwargs)
        return unittest.mock.MagicMock(**kwargs)


class MockRole(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Role

    def __init__(self, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "name": "role", "position": 1, **kwargs})
        self.mention = f"<@&{self.id}>"


class MockGuild(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Guild

    def __init__(self, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "name": "Guild", **kwargs})


class MockMember(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Member

    def __init__(self, roles: list | None = None, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "name": "member", "bot": False, **kwargs})
        self.roles = roles or []
        self.mention = f"<@{self.id}>"


class MockTextChannel(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.TextChannel

    def __init__(self, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "name": "general", **kwargs})
        self.mention = f"<#{self.id}>"


class MockThread(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Thread

    def __init__(self, parent: MockTextChannel | None = None, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "name": "thread", **kwargs})
        self.parent = parent
        self.parent_id = parent.id if parent is not None else None
        self.mention = f"<#{self.id}>"


class MockMessage(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Message

    def __init__(self, **kwargs) -> None:
        super().__init__(**{"id": next_id(), "content": "", "mentions": [], "reference": None, **kwargs})
        # As discord.py computes it: the user mentions written in the text (a reply's ping is not one).
        self.raw_mentions = [int(found) for found in re.findall(r"<@!?(\d+)>", self.content)]
        self.create_thread.return_value = MockThread(parent=kwargs.get("channel"))


class MockInteractionResponse(CustomMockMixin, unittest.mock.MagicMock):
    """Knows whether it was used, like the real one: ``is_done()`` turns True after a response."""

    spec_set = discord.InteractionResponse

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.is_done.side_effect = lambda: bool(self.defer.await_count or self.send_message.await_count)
        # Set return values now: an AsyncMock builds its default return value lazily, on first call.
        self.defer.return_value = self.send_message.return_value = None


class MockWebhook(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Webhook

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.send.return_value = MockMessage()


class MockInteraction(CustomMockMixin, unittest.mock.MagicMock):
    spec_set = discord.Interaction

    def __init__(
        self,
        client=None,
        *,
        permissions: discord.Permissions | None = None,
        user: MockMember | None = None,
        channel=None,
        guild: MockGuild | None = None,
        **kwargs,
    ) -> None:
        guild = guild or MockGuild()
        channel = channel or MockTextChannel(guild=guild)
        super().__init__(
            **{
                "id": next_id(),
                "client": client,
                "guild": guild,
                "guild_id": guild.id,
                "channel": channel,
                "channel_id": channel.id,
                "user": user or MockMember(guild=guild),
                "permissions": permissions or discord.Permissions.none(),
                "command": None,
                **kwargs,
            }
        )
        self.response = MockInteractionResponse()
        self.followup = MockWebhook()

    def sent(self) -> list[unittest.mock._Call]:
        """Everything sent back to the member (initial response and followups), in order."""
        return [*self.response.send_message.await_args_list, *self.followup.send.await_args_list]


@cache
def _bot_spec():
    """A real, never-connected LaunchBot whose attributes (instance ones included) spec MockBot."""
    from bot.discord.app import LaunchBot

    return LaunchBot(Services(Settings(), engine=None, storage=None))


class MockBot(CustomMockMixin, unittest.mock.MagicMock):
    """A LaunchBot with real services (engine, storage, limits, asking flow) and mocked Discord plumbing."""

    def __init__(self, settings: Settings, engine, storage, **kwargs) -> None:
        MockBot.spec_set = _bot_spec()
        super().__init__(**kwargs)
        self.settings = settings
        self.services = Services(settings, engine, storage)
        self.channel_configs = {}
        self.latency = 0.042
        self.user = MockMember(name="launchbot", bot=True)
