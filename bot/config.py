"""The bot's settings, read from the environment and `.env`, split by the area they configure."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.lineup.catalog import (
    ASPECT_RATIOS,
    BUILTIN_MODELS_FILE,
    IMAGE_SIZES,
    Lineup,
    ModelsFileError,
    Status,
    capabilities_for,
    load_lineup,
    normalize_ratio,
    normalize_size,
    successor,
    use_lineup,
)
from bot.upstream import ApiMode


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what to do."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


# `A,B,C` in the environment (pydantic-settings would otherwise expect JSON).
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]
CommaSeparatedIds = Annotated[tuple[int, ...], NoDecode, BeforeValidator(_split_commas)]


def _blank_is_missing(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("missing", "Field required")
    return value


# A secret left empty (as .env.example has them) is as missing as one never set.
RequiredSecret = Annotated[SecretStr, BeforeValidator(_blank_is_missing)]


def _blank_is_unset(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class _Section(BaseSettings):
    """One area of the settings, from the environment and `.env`; other areas' names ignored."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")


class TelegramSettings(_Section):
    """TELEGRAM_*: how to reach the Bot API."""

    model_config = SettingsConfigDict(env_prefix="TELEGRAM_")

    bot_token: RequiredSecret
    # A self-hosted Bot API server (or a test server) is used by pointing this at it.
    api_url: str = "https://api.telegram.org"


# Nano Banana 2.1 (GA 2026-10-06), which replaced the deprecated gemini-3.1-flash-image.
DEFAULT_MODEL = "google/gemini-nano-banana-2.1"


class EdenSettings(_Section):
    """EDENAI_*: the image service."""

    model_config = SettingsConfigDict(env_prefix="EDENAI_")

    api_key: RequiredSecret
    base_url: str = "https://api.edenai.run/v3"
    model: str = DEFAULT_MODEL
    # Models a chat may pick with /model, besides EDENAI_MODEL.
    allowed_models: CommaSeparated = Field(default=(), validation_alias="ALLOWED_MODELS")
    api_mode: ApiMode = "auto"
    # The text model that writes prompts for /describe and /enhance (over /chat/completions).
    text_model: str = "google/gemini-2.5-flash"
    # The longest wait for one image up to 2K; Gemini 3 Pro at 4K can take minutes.
    timeout_seconds: float = Field(default=180.0, gt=0)
    timeout_4k_seconds: float = Field(default=360.0, gt=0)
    # An operator's copy of bot/lineup/models.toml (the models, their tiers, prices and successors).
    models_file: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, validation_alias="MODELS_FILE"
    )
    _lineup: Lineup | None = PrivateAttr(default=None)
    # Retired ids that were configured, and the GA id used for each instead.
    _renamed: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("models_file")
    @classmethod
    def _readable_lineup(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                load_lineup(value)
            except ModelsFileError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _current_ids(self) -> EdenSettings:
        """Retired ids become their successors, so that a stale .env still works. The lineup is
        read first: every module asks the catalog about models, so it is the process's one."""
        self._lineup = load_lineup(self.models_file or BUILTIN_MODELS_FILE)
        use_lineup(self._lineup)

        def current(model: str) -> str:
            if (new := successor(model)) is None:
                return model
            self._renamed[model] = new
            return new

        self.model = current(self.model)
        self.allowed_models = tuple(dict.fromkeys(current(m) for m in self.allowed_models))
        return self

    @property
    def models(self) -> tuple[str, ...]:
        """The models a chat may use, the default first."""
        return (self.model, *(m for m in self.allowed_models if m != self.model))

    @property
    def lineup(self) -> Lineup:
        """The models file in use: MODELS_FILE's, else the built-in one."""
        assert self._lineup is not None  # read by the validator
        return self._lineup

    def model_notices(self) -> list[str]:
        """What the operator should know about the configured ids: renamed or deprecated ones."""
        notices = [
            f"{old} was shut down by Google on {capabilities_for(old).shutdown}; using its "
            f"successor {new} (write {new} in EDENAI_MODEL / ALLOWED_MODELS to silence this)"
            for old, new in self._renamed.items()
        ]
        for model in self.models:
            caps = capabilities_for(model)
            if caps.status is Status.DEPRECATED:
                until = f", shutdown date {caps.shutdown}" if caps.shutdown else ""
                notices.append(
                    f"{model} is deprecated by Google{until}: it works only while Eden still "
                    "lists it, then its successor is used"
                )
        return notices


# USER_DAILY_IMAGES when unset on a bot open to everyone.
OPEN_BOT_DAILY_IMAGES = 20


class AccessSettings(_Section):
    """Who may use the bot and how much: allow-lists, admins, quotas, flood guards, privacy."""

    allowed_user_ids: CommaSeparatedIds = ()
    allowed_chat_ids: CommaSeparatedIds = ()
    admin_user_ids: CommaSeparatedIds = ()
    # Every image is paid by the operator: with no allow-list only the admins are served, unless
    # this opens the bot to everyone. An allow-list, once set, always wins.
    allow_everyone: bool = False
    # 0 means unlimited; unset (or empty), see `daily_images`.
    user_daily_images: Annotated[int | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, ge=0
    )
    user_monthly_budget_usd: float = Field(default=0.0, ge=0)
    # Spend per group chat per UTC month (0 = unlimited), so that one busy group cannot use the
    # whole account; /budget overrides it per chat.
    group_monthly_budget_usd: float = Field(default=0.0, ge=0)
    user_max_in_flight: int = Field(default=2, ge=1)
    group_cooldown_seconds: float = Field(default=5.0, ge=0)
    log_prompts: bool = False
    # Requests are kept this long (prompt, settings, input and result files), even with
    # LOG_PROMPTS=false, so that the buttons under a result can run them again.
    request_retention_days: int = Field(default=7, ge=1)

    @property
    def has_allow_list(self) -> bool:
        return bool(self.allowed_user_ids or self.allowed_chat_ids)

    @property
    def is_open(self) -> bool:
        """Anyone who finds the bot may use it: ALLOW_EVERYONE=true and no allow-list."""
        return self.allow_everyone and not self.has_allow_list

    @property
    def daily_images(self) -> int:
        """Images per non-admin per UTC day (0: unlimited). Unset, a bot open to everyone gets a
        limit, so that a stranger cannot spend the operator's credit in one afternoon."""
        if self.user_daily_images is not None:
            return self.user_daily_images
        return OPEN_BOT_DAILY_IMAGES if self.is_open else 0


@dataclass(frozen=True, slots=True)
class StarPack:
    """Image credits sold together for a price in Telegram Stars."""

    images: int
    stars: int


# The packs offered when only STARS_PER_IMAGE is set.
DEFAULT_PACK_SIZES = (10, 50, 200)


def _replica_name() -> str:
    # In a container the process is pid 1 and the host name is the container's: a restarted
    # replica keeps its name and takes its own running jobs back at once.
    return f"{socket.gethostname()}-{os.getpid()}"


class DatabaseSettings(_Section):
    """Where the bot keeps its jobs and ledger: SQLite under DATA_DIR, or PostgreSQL for several
    replicas."""

    # postgresql://user:password@host:5432/name; unset: the SQLite file DATA_DIR/bot.sqlite3.
    database_url: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=2, le=100)
    # This replica's name on the jobs it runs.
    replica_id: str = Field(default_factory=_replica_name, min_length=1, max_length=100)
    # How many replicas share the bot's token: Telegram's ~30 messages a second are per bot, so
    # each replica keeps to its share.
    replicas: int = Field(default=1, ge=1, le=100)
    # A replica renews its running jobs' lease; when one dies, its jobs are taken over this long
    # after its last renewal.
    job_lease_seconds: float = Field(default=60.0, ge=3.0, le=3600.0)

    @field_validator("replica_id", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return _replica_name() if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("use a postgresql:// URL, or leave it unset for SQLite")
        return value

    @property
    def url(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

    @property
    def secrets(self) -> tuple[str, ...]:
        password = urlsplit(self.url).password if self.url else None
        return (password,) if password else ()


class StarsSettings(_Section):
    """STARS_*: selling image credits for Telegram Stars; off unless a price is set."""

    model_config = SettingsConfigDict(env_prefix="STARS_")

    # The price of one image credit; packs of 10, 50 and 200 are offered at this price each.
    per_image: int = Field(default=0, ge=0)
    # Packs with prices of their own, as `images:stars`, e.g. `10:150,50:600`; they replace
    # the packs made from STARS_PER_IMAGE.
    packs: CommaSeparated = ()

    @field_validator("packs")
    @classmethod
    def _images_colon_stars(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pack in value:
            if not re.fullmatch(r"[1-9][0-9]{0,5}:[1-9][0-9]{0,5}", pack.replace(" ", "")):
                raise ValueError(f"{pack!r}: write each pack as images:stars, e.g. 10:150")
        return tuple(pack.replace(" ", "") for pack in value)

    @property
    def offers(self) -> tuple[StarPack, ...]:
        """The packs on sale, smallest first; none when selling is off."""
        if self.packs:
            parsed = (StarPack(*map(int, pack.split(":"))) for pack in self.packs)
            return tuple(sorted(parsed, key=lambda p: (p.images, p.stars)))
        return tuple(StarPack(n, n * self.per_image) for n in DEFAULT_PACK_SIZES if self.per_image)

    @property
    def enabled(self) -> bool:
        return bool(self.offers)


class LoadSettings(_Section):
    """Under load and faults: the generation cap, retries, the circuit breaker, shutdown."""

    max_concurrent_generations: int = Field(default=16, ge=1)
    # Extra attempts for transient upstream failures (429, 5xx, connection errors).
    upstream_retries: int = Field(default=2, ge=0)
    # A generation that timed out on our side may still be finished and billed upstream: trying
    # again could pay for the same picture twice, so a timeout is not retried unless asked.
    upstream_retry_timeouts: bool = False
    upstream_retry_base_seconds: float = Field(default=2.0, gt=0)
    # Consecutive failures that open the breaker, and how long it then fails fast.
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooloff_seconds: float = Field(default=120.0, gt=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # Telegram's flood limits (bot/telegram/budget.py); off only for a test or benchmark server.
    telegram_rate_limit: bool = True


class ServerSettings(_Section):
    """How the bot listens: long polling, or a webhook; and its health and metrics endpoint."""

    # Set: webhook mode, Telegram posts updates to this public https URL.
    webhook_url: str = ""
    # Telegram sends it back in every webhook request; anything without it is refused.
    # Unset: a random one is made at each start.
    webhook_secret: SecretStr = SecretStr("")
    # Only the TLS proxy in front should reach it; in a container, 0.0.0.0 (set by the image).
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, gt=0, lt=65536)
    # /healthz and /metrics; port 0 turns them off.
    health_listen: str = "127.0.0.1"
    health_port: int = Field(default=8080, ge=0, lt=65536)

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret_alphabet(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("use 1-256 characters from A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value


class BotSettings(_Section):
    """Everything else: per-chat defaults, storage and logging."""

    default_aspect_ratio: str = "1:1"
    default_image_size: str = "1K"
    # Who may change a group's settings: its administrators, or every member.
    group_settings: Literal["admins", "everyone"] = "admins"
    # The most turns of a conversation sent upstream, the new request's own included.
    conversation_max_turns: int = Field(default=6, ge=1, le=50)
    data_dir: Path = Path("./data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Inline mode: where a picture is uploaded before it is put into the inline message (which
    # takes no uploads); unset, the user's private chat with the bot.
    inline_storage_chat_id: Annotated[int | None, BeforeValidator(_blank_is_unset)] = None

    @field_validator("default_aspect_ratio")
    @classmethod
    def _known_ratio(cls, value: str) -> str:
        if (ratio := normalize_ratio(value)) is None:
            raise ValueError(f"must be one of {', '.join(ASPECT_RATIOS)}")
        return ratio

    @field_validator("default_image_size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        if (size := normalize_size(value)) is None:
            raise ValueError(f"must be one of {', '.join(IMAGE_SIZES)}")
        return size

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()


@dataclass(frozen=True, slots=True)
class Settings:
    telegram: TelegramSettings
    eden: EdenSettings
    access: AccessSettings
    load: LoadSettings
    server: ServerSettings
    bot: BotSettings
    stars: StarsSettings
    database: DatabaseSettings

    @property
    def database_path(self) -> Path:
        return self.bot.data_dir / "bot.sqlite3"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach a log line or a reply."""
        return (
            self.telegram.bot_token.get_secret_value(),
            self.eden.api_key.get_secret_value(),
            self.server.webhook_secret.get_secret_value(),
            *self.database.secrets,
        )


Area = TypeVar("Area", bound=BaseSettings)


def load_area(cls: type[Area], env_file: Path | str | None = ".env") -> Area:
    """One area's settings (for a command that needs no others), or a ConfigError."""
    try:
        return cls(_env_file=env_file)
    except ValidationError as exc:
        raise ConfigError(_describe(cls, exc)) from None


# Settings' fields, in order, and the class that reads each.
AREAS: dict[str, type[BaseSettings]] = {
    "telegram": TelegramSettings,
    "eden": EdenSettings,
    "access": AccessSettings,
    "load": LoadSettings,
    "server": ServerSettings,
    "bot": BotSettings,
    "stars": StarsSettings,
    "database": DatabaseSettings,
}


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets `field` of `cls`."""
    alias = cls.model_fields[field].validation_alias
    prefix = str(cls.model_config.get("env_prefix") or "")
    return alias if isinstance(alias, str) else (prefix + field).upper()


def load_settings(env_file: Path | str | None = ".env") -> Settings:
    """Settings from the environment (and `env_file`), or a ConfigError naming all that is
    wrong, in every area."""
    parts: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, cls in AREAS.items():
        try:
            parts[name] = load_area(cls, env_file)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    settings = Settings(**parts)  # type: ignore[arg-type]
    check_defaults(settings)
    return settings


# A settings button carries `set|model|<name>` as callback data, which Telegram caps at 64 bytes.
MAX_MODEL_NAME_BYTES = 50


def check_defaults(settings: Settings) -> None:
    """The default ratio and size must be ones the configured model can produce."""
    for model in settings.eden.models:
        if len(model.encode()) > MAX_MODEL_NAME_BYTES:
            raise ConfigError(f"Model name too long for Telegram buttons (over 50 bytes): {model}")
    caps = capabilities_for(settings.eden.model)
    if settings.bot.default_aspect_ratio not in caps.aspect_ratios:
        raise ConfigError(
            f"DEFAULT_ASPECT_RATIO={settings.bot.default_aspect_ratio} is not supported by "
            f"{settings.eden.model}; use one of {', '.join(caps.aspect_ratios)}"
        )
    if settings.bot.default_image_size not in caps.image_sizes:
        raise ConfigError(
            f"DEFAULT_IMAGE_SIZE={settings.bot.default_image_size} is not supported by "
            f"{settings.eden.model}; use one of {', '.join(caps.image_sizes)}"
        )


def _describe(cls: type[BaseSettings], exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = str(error["loc"][0])
        # A field read through an alias reports the alias itself.
        variable = env_name(cls, loc) if loc in cls.model_fields else loc.upper()
        if error["type"] == "missing":
            lines.append(f"Missing setting {variable}: set it in the environment or in .env")
        else:
            lines.append(f"Invalid setting {variable}: {error['msg']}")
    return "; ".join(lines)
