"""The ``launchbot`` command: index, add, watch, remove, ask, chat, sources, eval, gaps, report, note,
discord, telegram, serve, migrate-state.

Other tools rely on ``ask --json`` (one JSON object per question per line) and on the exit codes:
0 success, 1 evaluation below its thresholds, 2 a usage, configuration or index problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.progress import build_progress
from bot.config import Settings, load_settings, unused_database_url
from bot.service.logs import FORMATS, configure_logging, log_format, use_format

if TYPE_CHECKING:  # the engine is imported by the commands that use it: `launchbot --help` stays quick
    from bot.core.engine import Outcome

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_PROBLEM = 0, 1, 2

DESCRIPTION = """\
launchbot answers questions about the Progress MS-10 launch by quoting its news articles.

Run it from anywhere inside a checkout (it finds launchbot.yaml in the current directory or a
parent), or point it at one with --home DIR or LAUNCHBOT_HOME."""

EXIT_CODES = """\
exit codes:
  0  success (a question the articles do not answer is still a success: "answered": false)
  1  evaluation below its thresholds (eval --min-hit / --min-abstain)
  2  a usage, configuration or index problem, explained in one line on stderr"""

ASK_EPILOG = f"""\
Each QUESTION is answered in order. '-' reads questions from stdin, one per line: every line gets
exactly one answer, in order, blank lines included ("problem": "empty"), bytes that are not UTF-8
shown as U+FFFD. With --json each answer is one JSON object on one line:
  {{"question", "answered", "answer", "sources": [{{"doc_id", "title", "url", "quote", "score"}}],
   "confidence", "closest", "problem"}}
"problem" is null, or why the question was refused: empty, too_long, no_words.

{EXIT_CODES}"""

DETAILS = ("title", "author", "publisher", "published", "url", "language")
ADD_EPILOG = """\
Each source is a web address (fetched politely: robots.txt, the fetch.* settings) or a file: a saved
page (.html), a PDF, a .txt or a .md. Prints one line per source: added or updated (title, outlet,
date, language, chunks), unchanged, or why it was not added (on stderr). The index is updated once,
incrementally; if that fails, no file is changed.

exit codes:
  0  every source added, updated or unchanged
  2  a source refused or a duplicate (one line each on stderr), or a configuration or index problem"""

CHAT_HELP = """\
Type a question and press Enter; a follow-up question continues the conversation. Commands:
  /new      a fresh conversation (earlier questions are forgotten)
  /sources  the indexed articles and whether the index is up to date
  /help     this help
  /quit     leave (or Ctrl-D)"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", type=Path, help="directory holding launchbot.yaml, knowledge/, index/ and .env (LAUNCHBOT_HOME)"
    )
    common.add_argument(
        "--config", type=Path, help="YAML settings file (LAUNCHBOT_CONFIG; default: launchbot.yaml, searched upwards)"
    )
    common.add_argument("--knowledge", type=Path, dest="knowledge_dir", help="knowledge directory")
    common.add_argument("--index", type=Path, dest="index_dir", help="index directory")
    common.add_argument("--model", help="sentence-transformers model name or path")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    common.add_argument(
        "--log-format",
        choices=FORMATS,
        help="log lines as text or one JSON object per line, both stamped in UTC (LAUNCHBOT_LOG_FORMAT; default text)",
    )

    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="launchbot", description=DESCRIPTION, epilog=EXIT_CODES, formatter_class=raw)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser("index", parents=[common], help="build or update the index")
    index.add_argument("--rebuild", action="store_true", help="re-embed everything")

    add = commands.add_parser(
        "add",
        parents=[common],
        help="bring articles in: links, saved pages (.html), PDFs, .txt/.md files",
        description="Fetch or read each article, write it to the knowledge folder and update the index.",
        epilog=ADD_EPILOG,
        formatter_class=raw,
    )
    add.add_argument("sources", nargs="+", metavar="URL|FILE")
    for detail in DETAILS:
        add.add_argument(f"--{detail}", help=f"the article's {detail}, over what is extracted (one source only)")
    commands.add_parser(
        "watch",
        parents=[common],
        help="poll the feeds in knowledge/feeds.yaml once and bring new items in",
    )
    remove = commands.add_parser(
        "remove", parents=[common], help="take documents out (their files move to knowledge/.removed/)"
    )
    remove.add_argument("ids", nargs="+", metavar="ID", help="a document id, as `sources` shows it")

    ask = commands.add_parser(
        "ask",
        parents=[common],
        help="answer questions ('-' reads stdin)",
        description="Answer questions by quoting the articles.",
        epilog=ASK_EPILOG,
        formatter_class=raw,
    )
    ask.add_argument(
        "questions", nargs="+", metavar="QUESTION", help="a question in quotes, or '-' to read questions from stdin"
    )
    ask.add_argument("--json", action="store_true", help="one JSON object per question per line")
    ask.add_argument(
        "--conversation",
        action="store_true",
        help="answer the questions in order as one conversation (follow-ups lean on earlier turns)",
    )
    ask.add_argument("-k", type=int, dest="top_k", help="passages to retrieve")

    commands.add_parser(
        "chat",
        parents=[common],
        help="chat with the bot in the terminal",
        description="Chat with the bot in the terminal.",
        epilog=CHAT_HELP,
        formatter_class=raw,
    )
    commands.add_parser("sources", parents=[common], help="list indexed documents and freshness")

    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument("--days", type=_days, default=7, help="over the last N days, today the last (default 7)")
    scope.add_argument(
        "--platform", choices=["all", "discord", "telegram"], default="all", help="whose questions (default all)"
    )
    scope.add_argument(
        "--community",
        default="all",
        help="a Discord server id or Telegram group id, 'private' for private chats, or 'all' (default)",
    )
    gaps = commands.add_parser(
        "gaps",
        parents=[common, scope],
        help="what members asked that the articles miss, grouped into topics",
        description="Declined and voted-down questions grouped into topics, most people first (README: Moderators).",
    )
    gaps.add_argument("--json", action="store_true", help="the topics as one JSON object")
    report = commands.add_parser(
        "report",
        parents=[common, scope],
        help="write a one-page HTML report (figures, chart, gaps)",
        description="A self-contained HTML page: the period's figures, questions per day, and the gaps table.",
    )
    report.add_argument("--html", type=Path, required=True, metavar="FILE", help="where to write the page")
    note = commands.add_parser("note", parents=[common], help="moderator notes: add, list, remove")
    note_commands = note.add_subparsers(dest="note_command", required=True, metavar="ACTION")
    note_add = note_commands.add_parser(
        "add",
        parents=[common],
        help="answer a question once, for everyone: QUESTION ANSWER, or 'QUESTION | ANSWER'",
    )
    note_add.add_argument("text", nargs="+", metavar="TEXT", help="the question and the answer")
    note_add.add_argument("--author", default=None, help="who wrote it (default: your user name)")
    note_commands.add_parser("list", parents=[common], help="every note")
    note_remove = note_commands.add_parser("remove", parents=[common], help="remove a note by its id")
    note_remove.add_argument("note_id", metavar="ID")

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
        "migrate-state",
        parents=[common],
        help="copy the SQLite state (questions, votes, chats, conversations) into PostgreSQL",
    )
    migrate.add_argument("--from", type=Path, dest="source", help="SQLite file (default: chat.database)")
    commands.add_parser("telegram", parents=[common], help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    serve = commands.add_parser(
        "serve", parents=[common], help="run every bot whose token is set (Discord, Telegram) in one process"
    )
    serve.add_argument("--sync-global", action="store_true", help="as for `discord`")
    return parser


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError(f"--days takes a whole number from 1 to 3650, not {text!r}")
    return int(text)


def _shard_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shards takes shard numbers separated by commas, not {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        fmt = log_format(args.log_format)
    except ValueError as exc:
        print(f"launchbot: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    configure_logging(logging.DEBUG if args.verbose else logging.WARNING, fmt)
    settings = None
    try:
        settings = load_settings(
            args.config,
            home=args.home,
            knowledge_dir=args.knowledge_dir,
            index_dir=args.index_dir,
            model=args.model,
            top_k=getattr(args, "top_k", None),
        )
        if args.log_format is None and "LAUNCHBOT_LOG_FORMAT" not in os.environ:
            _log_format_from_dotenv(settings)
        if args.command != "migrate-state" and (unused := unused_database_url(settings)):
            logger.warning("%s", unused)
        code = COMMANDS[args.command](args, settings)
        sys.stdout.flush()  # a reader that left shows here, not as a traceback at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # the user gets one line; -v shows the traceback
        from bot.core.engine import IndexProblem, ModelLoadError

        from_database = type(exc).__module__.startswith(("psycopg", "redis"))  # unreachable, refused…
        if not isinstance(exc, IndexProblem | ModelLoadError | FileNotFoundError | ValueError) and not from_database:
            raise
        logger.debug("details", exc_info=True)
        from bot.core.engine import IndexMissing

        lost = isinstance(exc, FileNotFoundError | IndexMissing) and settings is not None
        hint = f" ({settings.origin})" if lost else ""
        print(f"launchbot: {exc}{hint}", file=sys.stderr)
        return EXIT_PROBLEM


def _log_format_from_dotenv(settings: Settings) -> None:
    """LAUNCHBOT_LOG_FORMAT may be in ``.env`` like every other setting; it is only read once the
    home (and so the ``.env``) is known, after logging began."""
    env_file = settings.home / ".env"
    if env_file.is_file():
        from dotenv import dotenv_values

        fmt = dotenv_values(env_file).get("LAUNCHBOT_LOG_FORMAT")
        if fmt:
            use_format(log_format(fmt))


def _engine(settings: Settings):
    """The engine, open: a missing or stale index is built first, its progress on stderr."""
    from bot.core.engine import Engine

    engine = Engine(settings)
    progress = build_progress()
    try:
        engine.open(notify=lambda message: print(message, file=sys.stderr), progress=progress)
    finally:
        progress.close()
    return engine


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    progress = build_progress()
    try:
        report = Engine(settings).reindex(rebuild=args.rebuild, progress=progress)
    finally:
        progress.close()
    for error in report.errors:
        print(f"skipped {error}", file=sys.stderr)
    print(report.summary())
    if report.warning():
        print(f"warning: {report.warning()}", file=sys.stderr)
    return EXIT_OK


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    details = {name: getattr(args, name) for name in DETAILS if getattr(args, name)}
    if details and len(args.sources) > 1:
        raise ValueError("--title, --url and the other details describe one article: give one source with them")
    outcomes = Engine(settings).add([valid_text(source) for source in args.sources], details=details)
    return _report(outcomes)


def _report(outcomes: Iterable[Outcome]) -> int:
    """Changes and "unchanged" on stdout, refusals and duplicates on stderr (and exit code 2)."""
    code = EXIT_OK
    for outcome in outcomes:
        if outcome.status in ("refused", "duplicate"):
            print(f"launchbot: {outcome.line()}", file=sys.stderr)
            code = EXIT_PROBLEM
        else:
            print(outcome.line())
    return code


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    watched = Engine(settings).watch_feeds()
    code = _report([outcome for _, outcome in watched.outcomes])
    for problem in watched.problems:
        print(f"launchbot: {problem}", file=sys.stderr)
        code = EXIT_PROBLEM
    print(watched.summary() if watched.feeds else f"no feeds listed in {settings.knowledge_dir / 'feeds.yaml'}")
    return code


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from bot.core.engine import Engine

    engine = Engine(settings)
    for doc_id in args.ids:
        document, report = engine.remove(doc_id)
        print(f"removed {doc_id} (“{document.title}”); the index has {report.chunks} chunks")
    return EXIT_OK


def _silence_stdout() -> None:
    """The reader left (``launchbot ask … | head -1``): nothing more to say, and no traceback when
    Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def valid_text(text: str) -> str:
    """Arguments with bytes that are not UTF-8 arrive as lone surrogates; show them as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _stdin_lines() -> Iterator[str]:
    """One question per line, blank ones included (they keep their place in the output). Read as
    bytes: one invalid byte must not lose the batch, whatever the locale's stdin encoding."""
    lines = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    for line in lines:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else valid_text(line)
        yield text.removesuffix("\n").removesuffix("\r")


def _questions(raw: Iterable[str]) -> Iterator[str]:
    for question in raw:
        if question == "-":
            yield from _stdin_lines()
        else:
            yield valid_text(question)


# Line and paragraph separators are legal raw in JSON strings, but a reader splitting lines on them
# (Python's str.splitlines) would see one answer as two: escape them too.
_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def json_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False).translate(_SEPARATORS)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.render import render_text

    if hasattr(sys.stdout, "reconfigure"):  # --json is UTF-8 whatever the locale says
        sys.stdout.reconfigure(errors="replace", **({"encoding": "utf-8"} if args.json else {}))
    engine = _engine(settings)
    conversation = Conversation(settings.chat.conversation_turns) if args.conversation else None
    for question in _questions(args.questions):
        answer = engine.answer(question, conversation.turns if conversation else None)
        if conversation is not None:
            conversation.add(answer)
        if args.json:
            print(json_line(answer.to_json()), flush=True)
        else:
            print(render_text(answer) + "\n", flush=True)
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.render import render_text

    engine = _engine(settings)
    print(
        f"launchbot — ask about the Progress MS-10 launch ({len(engine.index.documents)} articles). "
        "Follow-up questions continue the conversation. Commands: /new (a fresh conversation), /sources, /help, /quit."
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
        if question.strip() in {"/help", "/?"}:
            print(CHAT_HELP)
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
        from bot.core.engine import turn_of

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
    from bot.service.text import provenance

    index = engine.index
    manifest = index.manifest
    print(
        f"index {index.path.name}: built {manifest['created']}, model {manifest['model']}, "
        f"{manifest['counts']['chunks']} chunks ({manifest['index_type']})"
    )
    for doc_id, meta in manifest["documents"].items():
        print(f"  {meta['chunks']:4d} chunks  {doc_id}  — {meta['title']}")
        document = index.documents.get(doc_id)
        if document is not None:
            print(f"               {provenance(document)}")
    for skipped in manifest.get("skipped", []):
        print(f"  skipped  {skipped['path']}: {skipped['reason']}")
    print(f"freshness: {engine.freshness().describe()}")


def _scope(args: argparse.Namespace) -> tuple[str, str | None, str]:
    """(platform, community, words) of ``--platform`` / ``--community``."""
    from bot.service.storage import EVERY

    platform = EVERY if args.platform == "all" else args.platform
    community = {"all": EVERY, "private": None}.get(args.community, args.community)
    where = "every community" if community == EVERY else "private chats" if community is None else community
    return platform, community, where if platform == EVERY else f"{platform}: {where}"


def _reports(settings: Settings):
    """The engine and the state database, with questions past ``state.retention_days`` deleted."""
    from bot.service.pgstorage import open_state
    from bot.service.runtime import expire_old_questions

    engine = _engine(settings)
    storage = open_state(settings)
    expire_old_questions(storage, settings.state.retention_days)
    return engine, storage


def cmd_gaps(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.render import render_gaps
    from bot.service.gaps import find_gaps

    platform, community, where = _scope(args)
    engine, storage = _reports(settings)
    try:
        report = find_gaps(storage, engine, platform, community, args.days)
    finally:
        storage.close()
    print(json_line(report.to_json()) if args.json else render_gaps(report, where))
    return EXIT_OK


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from bot.service.gaps import find_gaps
    from bot.service.html_report import ReportData, render
    from bot.service.reports import stats_report

    platform, community, where = _scope(args)
    engine, storage = _reports(settings)
    try:
        now = time.time()
        stats = stats_report(storage, platform, community, args.days, now=now, top=10)
        gaps = find_gaps(storage, engine, platform, community, args.days, now=now)
    finally:
        storage.close()
    page = render(
        ReportData(args.days, where, stats.stats, stats.counts, stats.chart, gaps, settings.state.retention_days, now)
    )
    _write_atomically(args.html, page)
    print(f"wrote {args.html}: {stats.stats.asked} questions, {len(gaps.topics)} gap topic(s); open it in a browser")
    return EXIT_OK


def _write_atomically(path: Path, text: str) -> None:
    """A reader (a browser reloading the page) never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def cmd_note(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from bot.service.notes import Notes, parse_note

    engine = _engine(settings) if args.note_command != "list" else None
    notes = Notes(settings, engine, None)
    if args.note_command == "list":
        listed = notes.list()
        for note in listed:
            print(f"{note.id:>4}  {note.attribution}  {' / '.join(note.questions)}")
            print(f"      “{note.answer}”")
        print(f"{len(listed)} note(s) in {notes.folder}")
        return EXIT_OK
    if args.note_command == "remove":
        removed = notes.remove(args.note_id)
        print(f"removed note {removed.id} ({' / '.join(removed.questions)}); the index no longer holds it")
        return EXIT_OK
    questions, answer = parse_note(args.text)
    added = notes.add(questions, answer, args.author or getpass.getuser())
    print(f"added note {added.note.id} ({added.note.path}), {added.note.attribution}")
    print(added.check_text())
    return EXIT_OK


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
    if args.source is not None and not source_path.is_file():  # named, so expected to be there
        raise FileNotFoundError(f"no SQLite database at {source_path}")
    if not settings.database_url:
        raise ValueError("set LAUNCHBOT_DATABASE_URL to the PostgreSQL database to copy into")
    if not source_path.is_file():  # a fresh install: no history, and nothing wrong with that
        target = PostgresStorage(settings.database_url.get_secret_value())
        version = target.schema_version()
        target.close()
        print(
            f"nothing to migrate: no SQLite state at {source_path} (a fresh install has none). The PostgreSQL "
            f"state database is ready (schema version {version}); set state_backend: postgres to use it"
        )
        return EXIT_OK
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
    "add": cmd_add,
    "watch": cmd_watch,
    "remove": cmd_remove,
    "ask": cmd_ask,
    "chat": cmd_chat,
    "sources": cmd_sources,
    "eval": cmd_eval,
    "gaps": cmd_gaps,
    "report": cmd_report,
    "note": cmd_note,
    "discord": cmd_discord,
    "migrate-state": cmd_migrate_state,
    "telegram": cmd_telegram,
    "serve": cmd_serve,
}


if __name__ == "__main__":
    raise SystemExit(main())
