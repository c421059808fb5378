"""``make train-reader``: examples, training (resumed from its last checkpoint), export to ONNX int8,
and the model card, in one command. ``python -m bot.training --help`` lists the knobs; the defaults
are the shipped model's."""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from bot.core.answering.reader import MODEL_DIR
from bot.training import card, export, pairs
from bot.training.reader import WORK, Plan, base_model_path, examples, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.training", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=Plan.questions, help="answerable training questions")
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--work", type=Path, default=WORK, help="examples, checkpoints and logs")
    parser.add_argument("--steps", type=int, help="stop after this many steps (a throughput check)")
    parser.add_argument("--export-only", action="store_true", help="export the finished run again")
    parser.add_argument("--destination", type=Path, default=MODEL_DIR)
    parser.add_argument(
        "--contrast",
        action="store_true",
        help="also run the second phase (edited unanswerable twins) and ship its weights; tried, not shipped",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot").setLevel(logging.INFO)
    plan = Plan(questions=args.questions, seed=args.seed)
    run = args.work / f"run-{plan.key()}"
    phases = ("main", "contrast") if args.contrast else ("main",)
    final = run / "contrast" / "final" if args.contrast else run / "final"
    if not (args.export_only and final.is_dir()):
        for phase in phases:  # each resumes from its own checkpoint
            final = train(plan, args.work, 500, 250, args.steps, phase)
    _, valid = examples(plan, args.work)
    started = time.perf_counter()
    shipped = export.export(final, base_model_path() / "tokenizer.json", args.destination, valid)
    shipped["seconds"] = round(time.perf_counter() - started)
    (run / "export.json").write_text(json.dumps(shipped, indent=1) + "\n", encoding="utf-8")
    logs = [run / "log.jsonl", run / "contrast" / "log.jsonl"]
    card.write(args.destination / "README.md", asdict(plan), logs, shipped, pairs.VALID_V2_ARTICLES, args.contrast)
    print(f"shipped {args.destination / 'model.onnx'} ({shipped['bytes'] / 1e6:.1f} MB): {shipped['int8']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
