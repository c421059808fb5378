"""ONNX Runtime backend: the same sentence vectors as torch, at a third of the query latency.

A question is ~18 tokens; torch spends most of its ~7.5 ms in per-operator overhead, not in the
matrix multiplies, and ``import sentence_transformers`` alone costs ~2 s of every cold start. So the
transformer is exported once with ``torch.onnx.export`` (fp32, no quantisation: the vectors must not
change), verified against torch on export, and cached on disk. Serving then needs only
``onnxruntime``, the ``tokenizers`` library (the model's own ``tokenizer.json``) and numpy: pooling
(per ``1_Pooling/config.json``) and normalisation happen here, and torch is never imported.

Only models that are exactly Transformer + Pooling (+ Normalize) in a local directory are supported;
anything else raises :class:`OnnxUnsupported` and the caller keeps torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core.embed.batches import Progress, counted

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when the exported graph or its inputs change: old cache entries are ignored
OPSET = 17
VERIFY_TOLERANCE = 1e-4  # max abs difference of normalised vectors, ONNX vs torch
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Short, long (truncated), padded-in-a-batch and non-Latin inputs: each exercises a different path.
VERIFY_TEXTS = (
    "When did Progress MS-10 launch?",
    "a",
    "रॉकेट लॉन्च अंतरिक्ष से कैसा दिखता है?",
    "The Soyuz rocket lifted off from Baikonur carrying 2,564 kg of supplies for the station crew. " * 30,
    "Alexander Gerst filmed the launch from the International Space Station.",
)
_MODULES = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling")
_NORMALIZE = "sentence_transformers.models.Normalize"
_POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}


class OnnxUnsupported(RuntimeError):
    """This model cannot be served by ONNX Runtime (or its export did not match torch)."""


@dataclass(frozen=True)
class ModelSpec:
    """What the ONNX path needs to know about a local sentence-transformers model directory."""

    path: Path
    pooling: str
    dimension: int
    max_seq_length: int

    def cache_key(self) -> str:
        """Changes whenever the weights, the pooling or this exporter change; cheap (no hashing of
        the weights themselves, which would cost a cold start ~0.2 s)."""
        weights = sorted(p for p in self.path.iterdir() if p.suffix in {".safetensors", ".bin"})
        identity = {
            "path": str(self.path.resolve()),
            "weights": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights],
            "pooling": self.pooling,
            "max_seq_length": self.max_seq_length,
            "format": EXPORT_FORMAT,
            "opset": OPSET,
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def read_spec(source: str | Path) -> ModelSpec:
    """The model's structure from its config files, without loading it; OnnxUnsupported if it is
    not a plain Transformer + Pooling (+ Normalize) model in a local directory."""
    path = Path(source)
    if not (path / "modules.json").is_file() or not (path / "tokenizer.json").is_file():
        raise OnnxUnsupported(f"{source} is not a local model directory with modules.json and tokenizer.json")
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    types = [module["type"] for module in modules]
    if tuple(types[:2]) != _MODULES or any(t != _NORMALIZE for t in types[2:]) or modules[0]["path"]:
        raise OnnxUnsupported(f"{source} has modules {types}: only Transformer + Pooling (+ Normalize)")
    pooling_config = json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    enabled = [key for key, value in pooling_config.items() if key.startswith("pooling_mode") and value]
    if len(enabled) != 1 or enabled[0] not in _POOLING_MODES:
        raise OnnxUnsupported(f"{source} pools with {enabled}; only one of mean, cls or max is supported")
    st_config = path / "sentence_bert_config.json"
    max_seq_length = (
        json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length") if st_config.is_file() else None
    )
    if not max_seq_length:
        raise OnnxUnsupported(f"{source} does not state its max_seq_length")
    return ModelSpec(
        path, _POOLING_MODES[enabled[0]], int(pooling_config["word_embedding_dimension"]), int(max_seq_length)
    )


def default_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "launchbot" / "onnx"


def cached_model_file(spec: ModelSpec, cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / spec.cache_key() / "model.onnx"


# --------------------------------------------------------------------------- serving


class OnnxEncoder:
    """Tokenise, run the exported transformer, pool and normalise: the sentence-transformers recipe.

    The session runs one intra-op thread: for a batch-1 question a second thread costs more in
    synchronisation than it saves. Bulk encoding (indexing) instead runs batches in parallel on a
    small thread pool over the same session, which ONNX Runtime allows and which scales better.
    """

    def __init__(self, spec: ModelSpec, model_file: Path, workers: int | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.spec = spec
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
        # tokenizer.json may pin other lengths (here: truncate and pad to 128); use the model's own.
        padding = self.tokenizer.padding or {}
        self.tokenizer.enable_truncation(max_length=spec.max_seq_length)
        self.tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))

    def encode(self, texts: Sequence[str], batch_size: int = 16, progress: Progress | None = None) -> np.ndarray:
        """Normalised float32 vectors. Texts are batched by length (as sentence-transformers does)
        so that padding, which is computed and thrown away, stays small."""
        if len(texts) == 1:
            return self._batch(list(texts))
        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [[texts[i] for i in order[start : start + batch_size]] for start in range(0, len(texts), batch_size)]
        with ThreadPoolExecutor(self.workers) as pool:
            vectors = np.concatenate(list(counted(pool.map(self._batch, batches), map(len, batches), progress)))
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {name: feeds[name] for name in self.inputs})[0]
        return normalise(pool_tokens(hidden, mask, self.spec.pooling))


def pool_tokens(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Token vectors to one vector per text, ignoring padding, as sentence-transformers' Pooling."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(hidden.dtype)
    if mode == "max":
        return np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


# --------------------------------------------------------------------------- exporting


def export_model(spec: ModelSpec, target: Path, reference: Callable[[list[str]], np.ndarray]) -> None:
    """Export the transformer to ``target`` (atomically) once it reproduces ``reference`` (torch).

    The file is written beside the target and renamed into place only after verification, so a
    crash or a mismatch never leaves a file that a later process would trust.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{uuid.uuid4().hex}.onnx.tmp"
    try:
        _export_transformer(spec, tmp)
        difference = _max_difference(OnnxEncoder(spec, tmp, workers=1), reference)
        if not difference <= VERIFY_TOLERANCE:
            raise OnnxUnsupported(
                f"exported model differs from torch by {difference:.2e} (tolerance {VERIFY_TOLERANCE:.0e})"
            )
        os.replace(tmp, target)
        logger.info("exported %s to %s (max difference to torch %.1e)", spec.path, target, difference)
    finally:
        tmp.unlink(missing_ok=True)


def _max_difference(encoder: OnnxEncoder, reference: Callable[[list[str]], np.ndarray]) -> float:
    texts = list(VERIFY_TEXTS)
    expected = reference(texts)
    batched = encoder.encode(texts, batch_size=len(texts))
    single = np.stack([encoder.encode([text])[0] for text in texts])
    return float(max(np.abs(batched - expected).max(), np.abs(single - expected).max()))


def _export_transformer(spec: ModelSpec, file: Path) -> None:
    """Trace the Hugging Face transformer with a padded batch, so the attention mask stays a real
    input of the graph (an all-ones example lets transformers skip the mask while tracing)."""
    import inspect
    import warnings

    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(spec.path), attn_implementation="eager").eval()
    accepted = inspect.signature(model.forward).parameters
    names = [name for name in INPUT_NAMES if name in accepted]
    tokenizer = Tokenizer.from_file(str(spec.path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.enable_padding()
    batch = tokenizer.encode_batch(["a longer example sentence to trace", "short"])
    examples = {
        "input_ids": torch.tensor([e.ids for e in batch]),
        "attention_mask": torch.tensor([e.attention_mask for e in batch]),
        "token_type_ids": torch.tensor([e.type_ids for e in batch]),
    }

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python booleans in transformers code
        torch.onnx.export(
            _Hidden(),
            tuple(examples[name] for name in names),
            str(file),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
