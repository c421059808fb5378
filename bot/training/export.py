"""The trained reader into what the bot ships: ONNX, int8, with its tokenizer and model card.

The torch model is exported in fp32 (``torch.onnx.export``), then its weights are quantised to int8
(ONNX Runtime's dynamic quantisation: a quarter of the size, and faster on a CPU). Both are checked
on the held-out validation groups: the int8 model ships only if its figures are within half a point
of the fp32 model's (the issue's bar), else the export stops and says so.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bot.core.answering.reader import (
    MODEL_FILE,
    TOKENIZER_FILE,
    Passage,
    Reader,
    batch_arrays,
    encode_pair,
    load_tokenizer,
)
from bot.training import pairs

logger = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 0.005  # int8 may move a validation figure by less than half a point


def export_fp32(trained: Path, target: Path, tokenizer_file: Path) -> None:
    """The torch model as an fp32 ONNX graph with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(trained).eval()
    tokenizer = load_tokenizer(tokenizer_file)
    example = batch_arrays([encode_pair(tokenizer, "Who filmed it?", Passage("Gerst filmed it."))])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in names} | {"logits": {0: "batch"}}
    with torch.inference_mode():
        torch.onnx.export(
            model,
            tuple(torch.from_numpy(example[name]) for name in names),
            str(target),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )


def quantise(source: Path, target: Path) -> None:
    """Weights int8 per output channel, in 7 bits (``reduce_range``): ONNX Runtime's u8s8 kernels can
    saturate with full-range weights, and measured here, full range moved the first phase's
    best-sentence AUC by half a point, 7 bits by a quarter."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)


def figures(reader: Reader, groups: list[pairs.Group]) -> dict[str, float]:
    """The validation figures of ``bot.training.reader.validate``, computed through ONNX Runtime."""
    from sklearn.metrics import roc_auc_score

    firsts, all_scores, all_labels, best, best_labels = [], [], [], [], []
    for group in groups:
        scores = reader.scores(group.question, [e.passage for e in group.examples])
        labels = [e.label for e in group.examples]
        all_scores.extend(scores.tolist())
        all_labels.extend(labels)
        if any(labels):
            firsts.append(labels[int(np.argmax(scores))])
        if group.article in pairs.VALID_V2_ARTICLES:
            best.append(float(scores.max()))
            best_labels.append(int(group.kind == "answerable"))
    result = {"p_at_1": float(np.mean(firsts)), "pair_auc": float(roc_auc_score(all_labels, all_scores))}
    if len(set(best_labels)) == 2:
        result["best_auc"] = float(roc_auc_score(best_labels, best))
    return {k: round(v, 4) for k, v in result.items()}


def export(trained: Path, tokenizer_file: Path, destination: Path, valid: list[pairs.Group]) -> dict:
    """Export, quantise, compare, and install into ``destination`` (model + tokenizer). Returns the
    figures of both, and the int8 model's size."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        shutil.copy(tokenizer_file, work / TOKENIZER_FILE)
        fp32, int8 = work / "fp32", work / "int8"
        fp32.mkdir()
        int8.mkdir()
        for folder in (fp32, int8):
            shutil.copy(tokenizer_file, folder / TOKENIZER_FILE)
        export_fp32(trained, fp32 / MODEL_FILE, tokenizer_file)
        quantise(fp32 / MODEL_FILE, int8 / MODEL_FILE)
        full = figures(Reader(fp32, threads=2), valid)
        small = figures(Reader(int8, threads=2), valid)
        logger.info("fp32 %s, int8 %s", full, small)
        moved = {k: round(small[k] - full[k], 4) for k in full}
        if any(abs(v) >= TOLERANCE for v in moved.values()):
            raise SystemExit(f"int8 moves the validation figures by {moved} (fp32 {full}, int8 {small}): not shipped")
        destination.mkdir(parents=True, exist_ok=True)
        for name in (MODEL_FILE, TOKENIZER_FILE):
            partial = destination / f".{name}.partial"
            shutil.copy(int8 / name, partial)
            partial.replace(destination / name)
    size = (destination / MODEL_FILE).stat().st_size
    return {"fp32": full, "int8": small, "moved": moved, "bytes": size}
