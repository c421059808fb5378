import logging
import math
import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for name in (
        "DISCORD_TOKEN",
        "LAUNCHBOT_TOP_K",
        "LAUNCHBOT_CONFIG",
        "LAUNCHBOT_MODEL",
        "LAUNCHBOT_HOME",
        "LAUNCHBOT_MIN_CONFIDENCE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_any_file():
    settings = load_settings()
    assert settings.top_k >= 1 and settings.model == "default" and settings.discord_token is None


def test_yaml_then_environment_then_flags(monkeypatch, tmp_path: Path):
    config = tmp_path / "custom.yaml"
    config.write_text("top_k: 7\nchunk_size: 600\n", encoding="utf-8")
    assert load_settings(config).top_k == 7
    monkeypatch.setenv("LAUNCHBOT_TOP_K", "9")
    assert load_settings(config).top_k == 9
    assert load_settings(config, top_k=3).top_k == 3
    assert load_settings(config, top_k=None).top_k == 9
    assert load_settings(config).chunk_size == 600


def test_secrets_come_from_the_environment_not_the_yaml(monkeypatch, tmp_path: Path):
    config = tmp_path / "launchbot.yaml"
    config.write_text("discord_token: leaked-in-yaml\n", encoding="utf-8")
    assert load_settings(config).discord_token is None
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.discord_token.get_secret_value() == "from-dotenv"
    assert "from-dotenv" not in repr(settings)


def test_missing_config_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_settings(tmp_path / "nope.yaml")


def test_invalid_value_is_named():
    with pytest.raises(ValueError, match="top_k"):
        load_settings(top_k=0)


def test_the_shared_chat_settings_and_their_old_discord_names(monkeypatch, tmp_path: Path, caplog):
    config = tmp_path / "old.yaml"
    config.write_text("discord:\n  user_cooldown_seconds: 3\n  guild_questions_per_minute: 7\n", encoding="utf-8")
    settings = load_settings(config)
    assert (settings.chat.user_cooldown_seconds, settings.chat.questions_per_minute) == (3, 7)
    assert "chat.questions_per_minute" in caplog.text
    monkeypatch.setenv("LAUNCHBOT_CHAT__QUESTIONS_PER_MINUTE", "11")
    assert load_settings(config).chat.questions_per_minute == 11  # the new name wins


def test_telegram_secrets_come_only_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    config = tmp_path / "launchbot.yaml"
    config.write_text("telegram_token: leaked\ntelegram:\n  maintainers: [42]\n", encoding="utf-8")
    assert load_settings(config).telegram_token is None
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:from-env")
    settings = load_settings(config)
    assert settings.telegram_token.get_secret_value() == "123:from-env" and settings.telegram.maintainers == [42]


def one_line(exc: pytest.ExceptionInfo) -> str:
    """The error as one short line; the test's own temporary paths (longer under pytest-xdist) not counted."""
    message = str(exc.value)
    assert "\n" not in message and len(re.sub(r"\S*pytest-of-\S*", "PATH", message)) < 300, message
    return message


def test_invalid_yaml_is_one_line_naming_file_and_line(tmp_path: Path):
    config = tmp_path / "launchbot.yaml"
    config.write_text("top_k: 5\nmin_confidence: [0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    message = one_line(exc)
    assert str(config) in message and "line" in message and "YAML" in message


def test_yaml_that_is_not_a_mapping_is_one_line(tmp_path: Path):
    config = tmp_path / "launchbot.yaml"
    config.write_text("- top_k: 5\n- min_confidence: 0.4\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert str(config) in one_line(exc) and "mapping" in one_line(exc)


def test_unknown_keys_are_warned_naming_them_and_the_file(tmp_path: Path, caplog):
    config = tmp_path / "launchbot.yaml"
    config.write_text("min_confidnce: 0.5\ndiscord:\n  cooldown: 3\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        settings = load_settings(config)
    assert settings.min_confidence == 0.30
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert "min_confidnce" in warned and "discord.cooldown" in warned and str(config) in warned
    assert "min_confidence" in warned  # the likely intended name


@pytest.mark.parametrize("value", ["5", "-1", ".nan"])
def test_out_of_range_values_in_the_file_name_the_file(tmp_path: Path, value):
    config = tmp_path / "launchbot.yaml"
    config.write_text(f"min_confidence: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    message = one_line(exc)
    assert str(config) in message and "min_confidence" in message


def test_out_of_range_values_name_the_variable_or_flag(monkeypatch):
    monkeypatch.setenv("LAUNCHBOT_MIN_CONFIDENCE", "nan")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "environment variable LAUNCHBOT_MIN_CONFIDENCE" in one_line(exc)
    monkeypatch.delenv("LAUNCHBOT_MIN_CONFIDENCE")
    with pytest.raises(ConfigError) as exc:
        load_settings(top_k=0)
    assert "top_k" in one_line(exc) and "flag" in one_line(exc)


@pytest.mark.parametrize(
    "setting",
    [
        "chunk_overlap: 900",  # not below chunk_size
        "follow_ratio: 2",
        "batch_size: 0",
        "answer_chars: .inf",
        "chat:\n  user_cooldown_seconds: -5",
        "chat:\n  questions_per_minute: -1",
        "chat:\n  reload_check_seconds: 0",
        "discord:\n  user_cooldown_seconds: .nan",  # an old name, moved to chat:, still checked
        "telegram:\n  webhook_port: 70000",
        "ops:\n  drain_seconds: -1",
    ],
)
def test_every_setting_is_range_checked(tmp_path: Path, setting):
    config = tmp_path / "launchbot.yaml"
    config.write_text(setting + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    assert str(config) in one_line(exc)


def test_launchbot_config_naming_a_missing_file_is_an_error(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("LAUNCHBOT_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml.*LAUNCHBOT_CONFIG"):
        load_settings()


def test_paths_in_the_file_are_relative_to_the_file(tmp_path: Path):
    home = tmp_path / "deploy"
    home.mkdir()
    (home / "launchbot.yaml").write_text("knowledge_dir: articles\nchat:\n  database: db/bot.sqlite3\n")
    settings = load_settings(home / "launchbot.yaml")
    assert settings.knowledge_dir == home / "articles"
    assert settings.index_dir == home / "index"  # defaults too: beside the file, not in the cwd
    assert settings.chat.database == home / "db" / "bot.sqlite3"


def test_home_sets_where_defaults_config_and_dotenv_live(monkeypatch, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "launchbot.yaml").write_text("top_k: 4\n")
    (home / ".env").write_text("DISCORD_TOKEN=from-home\n")
    monkeypatch.setenv("LAUNCHBOT_HOME", str(home))
    settings = load_settings()
    assert settings.top_k == 4 and settings.knowledge_dir == home / "knowledge"
    assert settings.discord_token.get_secret_value() == "from-home"
    monkeypatch.delenv("LAUNCHBOT_HOME")
    assert load_settings(home=home).top_k == 4


def test_the_config_is_found_from_a_subdirectory(monkeypatch, tmp_path: Path):
    (tmp_path / "launchbot.yaml").write_text("top_k: 6\n")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "sub" / "deeper")
    settings = load_settings()
    assert settings.top_k == 6 and settings.knowledge_dir == tmp_path / "knowledge"


def test_without_any_config_the_settings_say_where_they_looked(tmp_path: Path):
    settings = load_settings()
    assert str(tmp_path) in settings.origin and "LAUNCHBOT_HOME" in settings.origin
    assert not math.isnan(settings.min_confidence)


@pytest.mark.parametrize(
    "setting", ["answer_threshold: yes", "top_k: true", "min_confidence: off", "chat:\n  user_cooldown_seconds: on"]
)
def test_a_yes_no_value_where_a_number_belongs_is_refused(tmp_path: Path, setting):
    config = tmp_path / "launchbot.yaml"
    config.write_text(setting + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    message = one_line(exc)
    assert str(config) in message and setting.split(":")[-2].split()[-1] in message and "number" in message


def test_a_yes_no_value_is_still_fine_where_one_belongs(tmp_path: Path):
    config = tmp_path / "launchbot.yaml"
    config.write_text("chat:\n  log_question_text: yes\n", encoding="utf-8")
    assert load_settings(config).chat.log_question_text is True


def test_a_directory_named_as_the_config_file_is_called_a_directory(tmp_path: Path, monkeypatch):
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path)
    assert "is a directory" in one_line(exc) and str(tmp_path / "launchbot.yaml") in one_line(exc)
    monkeypatch.setenv("LAUNCHBOT_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match=r"LAUNCHBOT_CONFIG.*is a directory"):
        load_settings()


@pytest.mark.parametrize("index_dir", ["/dev/null", "/dev/null/index", "a-file"])
def test_an_index_dir_that_is_a_file_says_so_and_not_rebuild(tmp_path: Path, index_dir):
    (tmp_path / "a-file").write_text("not a directory\n")
    config = tmp_path / "launchbot.yaml"
    config.write_text(f"index_dir: {index_dir}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(config)
    message = one_line(exc)
    assert "index_dir" in message and "not one" in message and "rebuild" not in message
    assert "PosixPath" not in message
    with pytest.raises(ConfigError, match="flag --index"):
        load_settings(index_dir=Path("/dev/null"))


def test_a_key_like_a_token_is_told_where_tokens_come_from(tmp_path: Path, caplog):
    config = tmp_path / "launchbot.yaml"
    config.write_text("discord:\n  tokn: abc\ntelegram:\n  maintainer: [1]\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        load_settings(config)
    warned = [record.getMessage() for record in caplog.records]
    token = next(line for line in warned if "discord.tokn" in line)
    assert "discord_token" not in token and "DISCORD_TOKEN" in token and "environment" in token
    assert "abc" not in " ".join(warned)
    assert any("did you mean telegram.maintainers?" in line for line in warned)


def test_old_discord_names_in_the_environment_are_used_over_the_file(monkeypatch, tmp_path: Path, caplog):
    """launchbot.yaml documents every default under chat:, so an old name set in the environment must
    still win over the file, as any variable does (README: the old names still work)."""
    config = tmp_path / "launchbot.yaml"
    config.write_text("chat:\n  database: data/file.sqlite3\n  questions_per_minute: 15\n", encoding="utf-8")
    monkeypatch.setenv("LAUNCHBOT_DISCORD__DATABASE", str(tmp_path / "old.sqlite3"))
    monkeypatch.setenv("LAUNCHBOT_DISCORD__GUILD_QUESTIONS_PER_MINUTE", "4")
    with caplog.at_level(logging.WARNING):
        settings = load_settings(config)
    assert settings.chat.database == tmp_path / "old.sqlite3" and settings.chat.questions_per_minute == 4
    assert "LAUNCHBOT_DISCORD__GUILD_QUESTIONS_PER_MINUTE is now LAUNCHBOT_CHAT__QUESTIONS_PER_MINUTE" in caplog.text
    monkeypatch.setenv("LAUNCHBOT_CHAT__QUESTIONS_PER_MINUTE", "9")  # both in one source: the new name wins
    assert load_settings(config).chat.questions_per_minute == 9
    monkeypatch.setenv("LAUNCHBOT_DISCORD__USER_COOLDOWN_SECONDS", "-1")
    with pytest.raises(ConfigError, match="LAUNCHBOT_DISCORD__USER_COOLDOWN_SECONDS"):
        load_settings(config)


def test_a_database_url_no_backend_uses_is_warned_about(monkeypatch, tmp_path: Path, caplog):
    from bot.cli.main import main

    monkeypatch.setenv("LAUNCHBOT_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    with caplog.at_level(logging.WARNING):
        main(["sources", "--home", str(tmp_path)])  # no index here: what matters is the warning
    assert "LAUNCHBOT_DATABASE_URL is set but not used" in caplog.text
    assert "LAUNCHBOT_STATE_BACKEND=postgres" in caplog.text


def test_the_ops_section(monkeypatch):
    settings = load_settings()
    assert (settings.ops.port, settings.ops.host, settings.ops.drain_seconds) == (None, "127.0.0.1", 20.0)
    monkeypatch.setenv("LAUNCHBOT_OPS__PORT", "9102")
    assert load_settings().ops.port == 9102
    monkeypatch.setenv("LAUNCHBOT_OPS__PORT", "70000")
    with pytest.raises(ConfigError, match="LAUNCHBOT_OPS__PORT"):
        load_settings()


def test_notes_settings_name_what_is_wrong(tmp_path):
    (tmp_path / "launchbot.yaml").write_text("notes:\n  communities: ['123']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.communities .* discord:<server id> or telegram:<group id>, not 123"):
        load_settings(home=tmp_path)
    (tmp_path / "launchbot.yaml").write_text("notes:\n  folder: ../elsewhere\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.folder .* a folder name inside knowledge_dir"):
        load_settings(home=tmp_path)
    (tmp_path / "launchbot.yaml").write_text(
        "notes:\n  communities: ['telegram:-1001']\n  notify_days: 3\n", encoding="utf-8"
    )
    notes = load_settings(home=tmp_path).notes
    assert (notes.communities, notes.notify_days, notes.folder) == (["telegram:-1001"], 3, "notes")
