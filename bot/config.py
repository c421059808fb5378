"""Settings: documented defaults in ``launchbot.yaml``, overridden by ``LAUNCHBOT_*`` environment
variables (or ``.env``), overridden in turn by command-line flags.

Secrets (bot tokens) are read only from the environment or ``.env``, never from the YAML file, so
the file can be committed and shared without leaking anything.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = Path("launchbot.yaml")
_config_file: ContextVar[Path | None] = ContextVar("launchbot_config_file", default=None)


class ChatSettings(BaseModel):
    """What every chat front end shares (one process serving several shares one of each)."""

    database: Path = Path("data/launchbot.sqlite3")
    user_cooldown_seconds: float = Field(10.0, ge=0)
    questions_per_minute: int = Field(20, ge=0)  # per Discord server / Telegram group; 0: no limit
    log_question_text: bool = False
    conversation_turns: int = Field(6, ge=0)  # earlier turns a conversation remembers
    conversation_minutes: float = Field(30.0, gt=0)  # forgotten this long after its last turn
    reload_check_seconds: float = Field(5.0, gt=0)
    answer_workers: int = Field(2, ge=1)


# Keys that were under ``discord:`` before they were shared, and their name under ``chat:``.
_MOVED_TO_CHAT = {
    "database": "database",
    "user_cooldown_seconds": "user_cooldown_seconds",
    "guild_questions_per_minute": "questions_per_minute",
    "log_question_text": "log_question_text",
    "reload_check_seconds": "reload_check_seconds",
    "answer_workers": "answer_workers",
}


class DiscordSettings(BaseModel):
    """Discord front end. The token is not here: it is ``Settings.discord_token``."""

    dev_guild_id: int | None = None
    moderator_role: str | None = None
    maintainer_role: str | None = None
    shard_count: int | None = Field(None, ge=1)  # None: one process runs every shard Discord suggests
    shard_ids: list[int] | None = None  # the shards this process runs (needs shard_count)

    @model_validator(mode="after")
    def _shards_fit(self) -> DiscordSettings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("discord.shard_ids needs discord.shard_count (the total across every process)")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad or len(set(self.shard_ids)) != len(self.shard_ids) or not self.shard_ids:
                raise ValueError(
                    f"discord.shard_ids {self.shard_ids} must be distinct numbers from 0 to {self.shard_count - 1}"
                )
        return self


class TelegramSettings(BaseModel):
    """Telegram front end. The token is ``Settings.telegram_token``, the webhook secret
    ``Settings.telegram_webhook_secret``: both from the environment only."""

    base_url: str = "https://api.telegram.org/bot"  # a self-hosted Bot API server's URL + "/bot"
    maintainers: list[int] = Field(default_factory=list)  # Telegram user ids allowed to /reindex
    admin_cache_seconds: float = Field(60.0, ge=0)  # how long a getChatMember answer is trusted
    webhook_url: str | None = None  # set: receive updates by webhook at this public HTTPS URL
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)


class Settings(BaseSettings):
    """Every tunable of the engine and its front ends; see ``launchbot.yaml`` for what each means."""

    model_config = SettingsConfigDict(
        env_prefix="LAUNCHBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    knowledge_dir: Path = Path("knowledge")
    index_dir: Path = Path("index")
    model: str = "default"
    embedding_backend: Literal["auto", "torch", "onnx"] = "auto"
    onnx_cache_dir: Path | None = None
    batch_size: int = Field(16, ge=1)
    max_document_bytes: int = Field(2_000_000, ge=1)

    chunk_size: int = Field(800, ge=50)
    chunk_overlap: int = Field(150, ge=0)
    hnsw_threshold: int = Field(50_000, ge=1)

    top_k: int = Field(8, ge=1, le=50)
    sentence_candidates: int = Field(10, ge=0, le=100)
    candidates: int = Field(30, ge=1)
    rrf_k: int = Field(60, ge=1)
    cross_script_dense_weight: float = Field(0.25, ge=0.0, le=1.0)

    answer_chars: int = Field(500, ge=80)
    follow_ratio: float = Field(0.7, ge=0.0, le=1.0)
    min_confidence: float = 0.30
    answer_threshold: float | None = None
    max_question_chars: int = Field(500, ge=10)

    # --- several processes (README, "Several machines"); URLs may hold passwords: environment only
    index_backend: Literal["faiss", "postgres"] = "faiss"
    state_backend: Literal["sqlite", "postgres"] = "sqlite"
    postgres_lexical: Literal["bm25", "fts"] = "bm25"  # fts: PostgreSQL full-text ranking (measured: README)
    database_url: SecretStr | None = None  # LAUNCHBOT_DATABASE_URL, a PostgreSQL URL
    redis_url: SecretStr | None = None  # LAUNCHBOT_REDIS_URL: limits and Discord identify shared

    chat: ChatSettings = ChatSettings()
    discord: DiscordSettings = DiscordSettings()
    telegram: TelegramSettings = TelegramSettings()

    @model_validator(mode="after")
    def _database_for_postgres(self) -> Settings:
        for name in ("index_backend", "state_backend"):
            if getattr(self, name) == "postgres" and not self.database_url:
                raise ValueError(f"{name} is postgres but no LAUNCHBOT_DATABASE_URL is set")
        return self

    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "LAUNCHBOT_DISCORD_TOKEN")
    )
    telegram_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_TOKEN", "LAUNCHBOT_TELEGRAM_TOKEN")
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "LAUNCHBOT_TELEGRAM_WEBHOOK_SECRET")
    )

    @model_validator(mode="before")
    @classmethod
    def _shared_keys_moved_to_chat(cls, data: Any) -> Any:
        """``discord.user_cooldown_seconds`` and friends now apply to every front end, under ``chat:``;
        old configurations keep working, with a warning naming the new key."""
        if not isinstance(data, dict) or not isinstance(data.get("discord"), dict):
            return data
        discord, chat = dict(data["discord"]), dict(data.get("chat") or {})
        for old, new in _MOVED_TO_CHAT.items():
            if old in discord:
                logger.warning("discord.%s is now chat.%s (shared by every front end); please rename it", old, new)
                chat.setdefault(new, discord.pop(old))
        return {**data, "discord": discord, "chat": chat}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = _config_file.get() or Path(os.environ.get("LAUNCHBOT_CONFIG", DEFAULT_CONFIG_FILE))
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file)
        return init_settings, env_settings, dotenv_settings, _NoSecrets(yaml_source)


class _NoSecrets(PydanticBaseSettingsSource):
    """Wraps the YAML source so a token written into the shared file is ignored, loudly."""

    def __init__(self, inner: YamlConfigSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = dict(self.inner())
        for key in [key for key in values if key.lower() in _SECRET_KEYS]:
            del values[key]
            logger.warning("ignoring %s in the YAML config: secrets belong in the environment or .env", key)
        return values


_SECRET_KEYS = {
    "discord_token",
    "launchbot_discord_token",
    "telegram_token",
    "launchbot_telegram_token",
    "telegram_webhook_secret",
    "launchbot_telegram_webhook_secret",
    "database_url",
    "redis_url",
}


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the YAML file (``config`` or the default), the environment, then ``overrides``.

    ``None`` overrides are dropped, so CLI flags that were not given keep the configured value.
    """
    if config is not None and not config.is_file():
        raise FileNotFoundError(f"config file not found: {config}")
    token = _config_file.set(config)
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    finally:
        _config_file.reset(token)
