"""The `launchbot` command line: its JSON contract, exit codes, and messages other tools rely on."""

from __future__ import annotations

import io
import json

import pytest

from bot.cli.main import main
from bot.core.store.faiss_versions import current_version


@pytest.fixture
def cli_args(settings):
    return ["--knowledge", str(settings.knowledge_dir), "--index", str(settings.index_dir)]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_index_then_sources(capsys, cli_args):
    code, out, _ = run(capsys, "index", *cli_args)
    assert code == 0 and "3 added" in out and "chunks" in out
    code, out, _ = run(capsys, "sources", *cli_args)
    assert code == 0
    assert "astronaut-video-space-com" in out and "freshness: up to date" in out


def test_ask_json_lines_in_order(capsys, cli_args, monkeypatch):
    lines = "Where was the rocket launched from?\n\nHow do I bake sourdough bread?\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, err = run(capsys, "ask", "--json", *cli_args, "When did Progress 71 dock?", "-")
    assert code == 0
    assert "building" in err  # the missing index is built, with a message
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["question"] for line in lines] == [
        "When did Progress 71 dock?",
        "Where was the rocket launched from?",
        "",  # a blank line keeps its place: line N of the output answers line N of the input
        "How do I bake sourdough bread?",
    ]
    assert lines[2]["problem"] == "empty" and not lines[2]["answered"]
    for line in lines:
        assert {"question", "answered", "answer", "sources"} <= line.keys()
        assert isinstance(line["answered"], bool)
        for source in line["sources"]:
            assert {"doc_id", "title", "url", "quote", "score"} <= source.keys()
    assert lines[0]["answered"] and "November 18" in lines[0]["answer"]
    assert not lines[3]["answered"] and lines[3]["sources"] == []


def test_ask_human_readable(capsys, cli_args):
    code, out, _ = run(capsys, "ask", *cli_args, "Why was the October launch aborted?")
    assert code == 0 and "sensor" in out and "Sources:" in out and "[1]" in out


def test_corrupt_index_is_one_clear_line_and_exit_2(capsys, cli_args, settings):
    run(capsys, "index", *cli_args)
    (current_version(settings.index_dir) / "chunks.faiss").write_bytes(b"garbage")
    code, out, err = run(capsys, "ask", *cli_args, "When did Progress 71 dock?")
    assert code == 2 and out == ""
    assert err.startswith("launchbot: ") and "launchbot index --rebuild" in err
    assert "Traceback" not in err


def test_missing_knowledge_dir(capsys, tmp_path):
    code, _, err = run(capsys, "index", "--knowledge", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert code == 2 and "knowledge directory not found" in err


def test_eval_dev_set_passes_and_thresholds_gate(capsys, cli_args):
    from tests.helpers import DEV_SET

    code, out, _ = run(capsys, "eval", *cli_args, str(DEV_SET), "--min-hit", "1", "--min-abstain", "1")
    assert code == 0, out
    assert "answerable: 9/9" in out and "unanswerable: 3/3" in out


def test_eval_fails_below_threshold(capsys, cli_args, tmp_path):
    questions = tmp_path / "hard.yaml"
    questions.write_text(
        'items:\n  - id: x\n    question: What colour was the rocket?\n    expect_any: ["purple"]\n', encoding="utf-8"
    )
    code, out, _ = run(capsys, "eval", *cli_args, str(questions), "--min-hit", "0.5")
    assert code == 1 and "FAIL x" in out


def test_chat_session(capsys, cli_args, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("/sources\nWhere was the rocket launched from?\n/quit\n"))
    code, out, _ = run(capsys, "chat", *cli_args)
    assert code == 0 and "Baikonur" in out and "freshness" in out


def test_a_huge_title_is_capped_in_sources_and_json(capsys, cli_args, settings):
    (settings.knowledge_dir / "long.md").write_text(
        f"---\ntitle: {'Progress ' * 1200}\n---\nProgress 71 docked with a very long title attached.\n"
    )
    run(capsys, "index", *cli_args)
    code, out, _ = run(capsys, "sources", *cli_args)
    assert code == 0 and max(len(line) for line in out.splitlines()) < 400
    code, out, _ = run(capsys, "ask", "--json", *cli_args, "Which Progress docked with a very long title?")
    for source in json.loads(out)["sources"]:
        assert len(source["title"]) <= 200


def test_help_is_plain_text_and_documents_ask(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "``" not in top and "exit codes" in top.lower()
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    ask = capsys.readouterr().out
    assert "QUESTION" in ask and "'-'" in ask and "stdin" in ask
    assert "0 " in ask and "2 " in ask and "exit codes" in ask.lower()


def test_chat_answers_help_itself(capsys, cli_args, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("/help\n/quit\n"))
    code, out, _ = run(capsys, "chat", *cli_args)
    assert code == 0 and "/sources" in out and "/quit" in out
    assert "I don't know" not in out and "please ask" not in out


def test_outside_a_checkout_it_says_where_it_looked_and_leaves_nothing(capsys, tmp_path, monkeypatch):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("LAUNCHBOT_HOME", raising=False)
    monkeypatch.delenv("LAUNCHBOT_CONFIG", raising=False)
    code, out, err = run(capsys, "ask", "When did Progress 71 dock?")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "launchbot.yaml" in err and str(empty) in err and "--home" in err
    assert list(empty.iterdir()) == []  # no stray index/ or .lock
    code, _, err = run(capsys, "index")
    assert code == 2 and "knowledge directory not found" in err and list(empty.iterdir()) == []


def test_home_flag_runs_from_anywhere(capsys, settings, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    home = settings.knowledge_dir.parent
    code, out, _ = run(capsys, "ask", "--json", "--home", str(home), "When did Progress 71 dock?")
    assert code == 0 and json.loads(out)["answered"]
    assert (home / "index" / "CURRENT").is_file() and list(elsewhere.iterdir()) == []


def test_ask_conversation_answers_follow_ups_in_order(capsys, cli_args, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("And where was it launched from?\n"))
    code, out, _ = run(
        capsys, "ask", "--json", "--conversation", *cli_args, "What is Progress 71?", "When did it dock?", "-"
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["question"] for line in lines] == [
        "What is Progress 71?",
        "When did it dock?",
        "And where was it launched from?",
    ]
    assert all(line["answered"] for line in lines)
    assert "November 18" in lines[1]["answer"].split("”")[0]
    assert "Baikonur" in lines[2]["answer"].split("”")[0]
    # Without --conversation each question stands alone, and "it" is about nothing.
    code, out, _ = run(capsys, "ask", "--json", *cli_args, "What is Progress 71?", "When did it dock?")
    assert not json.loads(out.splitlines()[1])["answered"]


def test_chat_remembers_its_conversation_until_new(capsys, cli_args, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What is Progress 71?\nWhen did it dock?\n/new\nWhen did it dock?\n"))
    code, out, _ = run(capsys, "chat", *cli_args)
    assert code == 0
    replies = out.split("bot> ")[1:]
    assert len(replies) == 3
    assert "November 18" in replies[1] and "a fresh conversation" in replies[1]
    assert replies[2].startswith("I don't know")


def test_eval_runs_dialogues_on_the_first_quote(capsys, cli_args, tmp_path):
    dialogues = tmp_path / "dialogues.yaml"
    dialogues.write_text(
        "dialogues:\n  - id: d\n    turns:\n      - question: What is Progress 71?\n"
        '      - question: When did it dock?\n        expect_any: ["November 18"]\n'
        "      - question: What is the capital of Australia?\n        answerable: false\n"
        '      - question: Where was it launched from?\n        expect_any: ["purple"]\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "eval", *cli_args, str(dialogues), "--min-hit", "1")
    assert code == 1
    assert "answerable: 1/2" in out and "unanswerable: 1/1" in out and "FAIL d#4" in out
