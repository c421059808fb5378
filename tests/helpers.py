"""Test helpers: paths, settings over throwaway copies of the knowledge base, and spies."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.config import Settings
from bot.embedding import Embedder

REPO = Path(__file__).resolve().parent.parent
KNOWLEDGE = REPO / "knowledge"
DEV_SET = REPO / "tests" / "data" / "dev_qa.yaml"


def make_settings(root: Path, **overrides) -> Settings:
    knowledge = root / "knowledge"
    if not knowledge.exists():
        shutil.copytree(KNOWLEDGE, knowledge)
    return Settings(knowledge_dir=knowledge, index_dir=root / "index", **overrides)


class CountingEmbedder(Embedder):
    """The real embedder, counting what it is asked to embed (a spy, not a fake)."""

    def __init__(self, inner: Embedder) -> None:
        self.__dict__.update(inner.__dict__)
        self.calls: list[int] = []

    def encode(self, texts, progress: bool = False):
        self.calls.append(len(texts))
        return super().encode(texts, progress)

    @property
    def embedded(self) -> int:
        return sum(self.calls)
