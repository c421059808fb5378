"""Answer quality on both index stores: FAISS, PostgreSQL with bm25s, PostgreSQL with full-text search.

``python -m benchmarks.backends [--every N]`` (needs ``LAUNCHBOT_DATABASE_URL``, or starts a
throw-away server) asks each question set of the README's quality table through the three engines,
one question at a time, and prints for each: answerable hit rate, unanswerable decline rate, and how
many answers are identical to FAISS's. SQuAD is sampled (every Nth question, default 4: all 16
articles, a quarter of the time); the launch sets are asked in full.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.core.embed.embedding import Embedder
from bot.core.engine import Engine
from bot.evaluation import judge, load_yaml_set, squad_corpus, squad_settings

SHARED = Path("../shared/eval")
SETS = {
    "dev": SHARED / "dev_qa.yaml",
    "hard": SHARED / "launch_hard.yaml",
    "squad": SHARED / "squad2" / "dev-v2.0-half.json",
}
STORES = ("faiss", "postgres bm25", "postgres fts")


def engines(settings: Settings, embedder: Embedder, database_url: str) -> dict[str, Engine]:
    made = {}
    for name in STORES:
        update = {}
        if name != "faiss":
            update = {
                "index_backend": "postgres",
                "database_url": SecretStr(database_url),
                "postgres_lexical": name.split()[1],
            }
        engine = Engine(settings.model_copy(update=update), embedder)
        engine.open()
        made[name] = engine
    return made


def compare(items, made: dict[str, Engine]) -> dict[str, dict[str, float]]:
    scores = {name: {"hit": 0, "declined": 0, "same": 0} for name in made}
    answerable = sum(item.answerable for item in items)
    for item in items:
        answers = {name: engine.answer(item.question) for name, engine in made.items()}
        for name, answer in answers.items():
            if item.answerable:
                scores[name]["hit"] += answer.answered and judge(item, answer)
            else:
                scores[name]["declined"] += not answer.answered
            scores[name]["same"] += answer.text == answers["faiss"].text
    for score in scores.values():
        score["hit"] = 100 * score["hit"] / max(answerable, 1)
        score["declined"] = 100 * score["declined"] / max(len(items) - answerable, 1)
        score["same"] = 100 * score["same"] / len(items)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=4, help="ask every Nth SQuAD question")
    parser.add_argument("--offset", type=int, default=0, help="starting from this one (0..N-1)")
    parser.add_argument("--sets", default="dev,hard,squad")
    args = parser.parse_args(argv)
    from tests.servers import create_database, database_url, start_postgres

    given = os.environ.get("LAUNCHBOT_DATABASE_URL")  # used for SQuAD (its index may be built there)
    server = database_url(given, "postgres") if given else start_postgres().url
    embedder = Embedder()
    base = Settings()
    for name in args.sets.split(","):
        path = SETS[name]
        if name == "squad":
            documents, items = squad_corpus(path)
            settings = squad_settings(path, base, documents)
            items = items[args.offset :: args.every]
        else:
            settings, items = base, load_yaml_set(path)
        database = given if name == "squad" and given else create_database(server)  # one index each
        scores = compare(items, engines(settings, embedder, database))
        print(f"\n{name}: {len(items)} questions ({sum(i.answerable for i in items)} answerable)")
        for store, score in scores.items():
            print(
                f"  {store:14s} hit {score['hit']:5.1f}%  declined {score['declined']:5.1f}%  "
                f"identical to faiss {score['same']:5.1f}%",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
