"""The ``launchbot`` command: index, ask, chat, sources, eval, discord, telegram, serve.

Other tools rely on ``ask --json`` (one JSON object per question per line) and on the exit codes:
0 success, 1 evaluation below its thresholds, 2 a usage, configuration or index problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.config import Settings, load_settings

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_PROBLEM = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="YAML settings file (default: ./launchbot.yaml)")
    common.add_argument("--knowledge", type=Path, dest="knowledge_dir", help="knowledge directory")
    common.add_argument("--index", type=Path, dest="index_dir", help="index directory")
    common.add_argument("--model", help="sentence-transformers model name or path")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")

    parser = argparse.ArgumentParser(prog="launchbot", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build or update the index")
    index.add_argument("--rebuild", action="store_true", help="re-embed everything")

    ask = commands.add_parser("ask", parents=[common], help="answer questions ('-' reads stdin)")
    ask.add_argument("questions", nargs="+", metavar="QUESTION")
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    ask.add_argument(
        "--conversation",
        action="store_true",
        help="answer the questions in order as one conversation (follow-ups lean on earlier turns)",
    )
    ask.add_argument("-k", type=int, dest="top_k", help="passages to retrieve")

    commands.add_parser("chat", parents=[common], help="chat with the bot in the terminal")
    commands.add_parser("sources", parents=[common], help="list indexed documents and freshness")

    evaluate = commands.add_parser("eval", parents=[common], help="score a question set (YAML or SQuAD JSON)")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--min-hit", type=float, help="fail below this answerable hit rate (0-1)")
    evaluate.add_argument("--min-abstain", type=float, help="fail below this unanswerable decline rate")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--failures", type=Path, help="write every failure to this JSON Lines file")
    evaluate.add_argument("--curve", action="store_true", help="print the confidence threshold trade-off")
    evaluate.add_argument("--first-quote", action="store_true", help="a hit needs the fact in the answer's first quote")

    discord = commands.add_parser("discord", parents=[common], help="run the Discord bot (needs DISCORD_TOKEN)")
    discord.add_argument(
        "--sync-global",
        action="store_true",
        help="also publish the slash commands to every server (takes up to an hour)",
    )
    discord.add_argument(
        "--shards", type=_shard_list, help="the shards this process runs, e.g. 0,1 (with --shard-count)"
    )
    discord.add_argument("--shard-count", type=int, help="shards across every process (README: Several machines)")

    migrate = commands.add_parser(
        "migrate-state", parents=[common], help="copy the SQLite state (questions, votes, chats) into PostgreSQL"
    )
    migrate.add_argument("--from", type=Path, dest="source", help="SQLite file (default: chat.database)")
    commands.add_parser("telegram", parents=[common], help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    serve = commands.add_parser(
        "serve", parents=[common], help="run every bot whose token is set (Discord, Telegram) in one process"
    )
    serve.add_argument("--sync-global", action="store_true", help="as for `discord`")
    return parser


def _shard_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shards takes shard numbers separated by commas, not {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(
            args.config,
            knowledge_dir=args.knowledge_dir,
            index_dir=args.index_dir,
            model=args.model,
            top_k=getattr(args, "top_k", None),
        )
        return COMMANDS[args.command](args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the user gets one line; -v shows the traceback
        from bot.core.embedding import ModelLoadError
        from bot.core.index import IndexProblem

        from_database = type(exc).__module__.startswith(("psycopg", "redis"))  # unreachable, refused…
        if not isinstance(exc, IndexProblem | ModelLoadError | FileNotFoundError | ValueError) and not from_database:
            raise
        logger.debug("details", exc_info=True)
        print(f"launchbot: {exc}", file=sys.stderr)
        return EXIT_PROBLEM


def _engine(settings: Settings):
    from bot.core.engine import Engine

    engine = Engine(settings)
    engine.open(notify=lambda message: print(message, file=sys.stderr))
    return engine


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    report = Engine(settings).reindex(rebuild=args.rebuild, progress=sys.stderr.isatty())
    for error in report.errors:
        print(f"skipped {error}", file=sys.stderr)
    print(report.summary())
    return EXIT_OK


def _questions(raw: Iterable[str]) -> Iterable[str]:
    for question in raw:
        if question == "-":
            yield from (line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            yield question


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.render import render_text

    engine = _engine(settings)
    conversation = Conversation(settings.chat.conversation_turns) if args.conversation else None
    for question in _questions(args.questions):
        answer = engine.answer(question, conversation.turns if conversation else None)
        if conversation is not None:
            conversation.add(answer)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            print(render_text(answer) + "\n", flush=True)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.render import render_text

    engine = _engine(settings)
    print(
        f"launchbot — ask about the Progress MS-10 launch ({len(engine.index.documents)} articles). "
        "Follow-up questions continue the conversation. Commands: /new (a fresh conversation), /sources, /quit."
    )
    conversation = Conversation(settings.chat.conversation_turns)
    while True:
        try:
            question = input("\nyou> ")
        except EOFError:
            print()
            return EXIT_OK
        if question.strip() in {"/quit", "/exit"}:
            return EXIT_OK
        if question.strip() == "/sources":
            _print_sources(engine)
            continue
        if question.strip() == "/new":
            conversation.clear()
            print("(a fresh conversation: earlier questions are forgotten)")
            continue
        if not question.strip():
            continue
        answer = engine.answer(question, conversation.turns)
        conversation.add(answer)
        print("\nbot> " + render_text(answer))


class Conversation:
    """The terminal's one conversation: its last ``limit`` turns (a new one after ``/new``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.turns: list = []

    def add(self, answer) -> None:
        from bot.core.conversation import turn_of

        self.turns = [*self.turns, turn_of(answer)][-self.limit :] if self.limit else []

    def clear(self) -> None:
        self.turns = []


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    engine = Engine(settings)
    engine.load()
    _print_sources(engine)
    return EXIT_OK


def _print_sources(engine) -> None:
    index = engine.index
    manifest = index.manifest
    print(
        f"index {index.path.name}: built {manifest['created']}, model {manifest['model']}, "
        f"{manifest['counts']['chunks']} chunks ({manifest['index_type']})"
    )
    for doc_id, meta in manifest["documents"].items():
        print(f"  {meta['chunks']:4d} chunks  {doc_id}  — {meta['title']}")
    for skipped in manifest.get("skipped", []):
        print(f"  skipped  {skipped['path']}: {skipped['reason']}")
    print(f"freshness: {engine.freshness().describe()}")


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evaluation import run_eval

    return run_eval(args, settings)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    from bot.discord.app import run

    if args.shards is not None or args.shard_count is not None:
        shards = {"shard_ids": args.shards, "shard_count": args.shard_count}
        discord = settings.discord.model_dump() | {k: v for k, v in shards.items() if v is not None}
        settings = settings.model_copy(update={"discord": type(settings.discord).model_validate(discord)})
    return run(settings, sync_global=args.sync_global)


def cmd_migrate_state(args: argparse.Namespace, settings: Settings) -> int:
    from bot.service.pgstorage import PostgresStorage, copy_sqlite
    from bot.service.storage import SQLiteStorage

    source_path = args.source or settings.chat.database
    if not source_path.is_file():
        raise FileNotFoundError(f"no SQLite database at {source_path}")
    if not settings.database_url:
        raise ValueError("set LAUNCHBOT_DATABASE_URL to the PostgreSQL database to copy into")
    source, target = SQLiteStorage(source_path), PostgresStorage(settings.database_url.get_secret_value())
    try:
        report = copy_sqlite(source, target)
    finally:
        source.close()
        target.close()
    print(f"{report.summary()} from {source_path} into PostgreSQL; set state_backend: postgres to use it")
    return EXIT_OK


def cmd_telegram(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram.app import run

    return run(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.serve import run

    return run(settings, sync_global=args.sync_global)


COMMANDS = {
    "index": cmd_index,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "sources": cmd_sources,
    "eval": cmd_eval,
    "discord": cmd_discord,
    "migrate-state": cmd_migrate_state,
    "telegram": cmd_telegram,
    "serve": cmd_serve,
}


if __name__ == "__main__":
    raise SystemExit(main())
