from pathlib import Path

import pytest

from bot.config import load_settings


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    for name in ("DISCORD_TOKEN", "LAUNCHBOT_TOP_K", "LAUNCHBOT_CONFIG", "LAUNCHBOT_MODEL"):
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
