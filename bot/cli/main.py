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
    commands.add_parser("telegram", parents=[common], help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    serve = commands.add_parser(
        "serve", parents=[common], help="run every bot whose token is set (Discord, Telegram) in one process"
    )
    serve.add_argument("--sync-global", action="store_true", help="as for `discord`")
    return parser


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

        if not isinstance(exc, IndexProblem | ModelLoadError | FileNotFoundError | ValueError):
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
    for question in _questions(args.questions):
        answer = engine.answer(question)
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
        "Commands: /sources, /quit."
    )
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
        if not question.strip():
            continue
        print("\nbot> " + render_text(engine.answer(question)))


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

    return run(settings, sync_global=args.sync_global)


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
    "telegram": cmd_telegram,
    "serve": cmd_serve,
}


if __name__ == "__main__":
    raise SystemExit(main())
