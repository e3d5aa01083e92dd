"""Configuration: ``config.toml`` overlaid by environment variables.

Every key has a default (the dataclasses below and the domain's rule
classes; ``config.toml`` in the repository documents the same values).  Every
key can be overridden by the environment variable ``CRM_BOT_<SECTION>_<KEY>``
(upper case), and a few have the fixed short names DESIGN.md promises
(``CRM_BOT_TOKEN``, ``CRM_BOT_API_BASE_URL``, ``CRM_BOT_DATA``,
``CRM_BOT_DATABASE_URL``, ``CRM_BOT_ADMINS``).  Anything wrong — bad TOML,
an unknown section or key, a wrong type, an unknown time zone — raises
``ConfigError`` whose message is one line naming the key.

Declared once.  The sections that hold business rules *are* the domain's
rule dataclasses — ``[classification]`` is ``ClassificationRules``,
``[churn]`` ``ChurnRules``, ``[feedback]`` ``FeedbackRules`` — and the
other sections are the small dataclasses below.  Each section validates
itself in ``__post_init__``; this module only reads the file and the
environment, coerces each value to its field's type hint (``int``,
``float``, ``Decimal``, ``bool``, ``str``, ``list[int]``) and builds every
section once, at start-up.  Services use those objects as they are; nothing
rebuilds a rule object per call.

Why not pydantic-settings models feeding the domain?  The domain must stay
importable and testable without configuration or a validation library
(``bot/domain`` imports neither), so a settings model would be a second
declaration of every rule key beside the dataclass the domain computes
with — exactly the copy this design removes.  What pydantic would add over
the coercion below (about fifty lines over five types) is a dependency,
error texts to translate back to our one-line ``[section] key`` form, and
two validation modes (strict for TOML, lax for environment strings).
"""

from __future__ import annotations

import dataclasses
import json
import os
import string
import tomllib
import typing
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import babel

from bot.domain import deals as deal_defaults
from bot.domain.churn import ChurnRules
from bot.domain.classification import ClassificationRules
from bot.domain.deals import Pipeline, build_pipeline
from bot.domain.feedback import FeedbackRules
from bot.domain.reorder import ReorderRules
from bot.domain.reports import ReportSettings

LANGUAGES = ("zh", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TELEGRAM_API = "https://api.telegram.org/bot"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration problem, with a message fit to print as one line."""


def _hour(name: str, value: int) -> None:
    if not 0 <= value <= 23:
        raise ValueError(f"{name} must be an hour 0-23, got {value}")


SECRET_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


@dataclass
class TelegramConfig:
    token: str = ""
    api_base_url: str = TELEGRAM_API
    file_base_url: str = ""  # empty: derived from api_base_url
    mode: str = "polling"  # polling | webhook
    webhook_url: str = ""  # the public URL Telegram POSTs to (the reverse proxy's)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443  # 0: any free port (tests)
    webhook_secret: str = ""  # required in webhook mode; never logged, masked by `check`
    webhook_path: str = ""  # the path served locally; empty: webhook_url's path
    webhook_max_connections: int = 40
    health_max_tick_lag_seconds: int = 120  # /healthz says 503 when the last tick is older
    rate_limit_retries: int = 3
    concurrent_updates: int = 8  # updates processed at once; one user's always in order
    rate_limit: bool = True  # throttle message sends as Telegram's flood limits ask
    messages_per_second: float = 30.0  # sends to all chats together
    private_chat_messages_per_second: float = 1.0
    private_chat_burst: int = 20  # sends one private chat may get at once, then the rate applies
    group_chat_messages_per_minute: float = 20.0

    def __post_init__(self) -> None:
        if self.concurrent_updates < 1:
            raise ValueError("concurrent_updates must be at least 1")
        for name in ("messages_per_second", "private_chat_messages_per_second",
                     "group_chat_messages_per_minute"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.private_chat_burst < 1:
            raise ValueError("private_chat_burst must be at least 1")
        if self.mode not in ("polling", "webhook"):
            raise ValueError(f"mode must be polling or webhook, got {self.mode!r}")
        if not self.api_base_url.startswith(("http://", "https://")):
            raise ValueError(f"api_base_url must be an http(s) URL, got {self.api_base_url!r}")
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("webhook_url is required when mode = webhook")
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http(s) URL")
        if self.mode == "webhook" and not self.webhook_secret:
            raise ValueError(
                "webhook_secret is required when mode = webhook (set CRM_BOT_WEBHOOK_SECRET)"
            )
        if self.webhook_secret and not (
            len(self.webhook_secret) <= 256 and set(self.webhook_secret) <= SECRET_CHARS
        ):
            raise ValueError("webhook_secret must be 1-256 of A-Z, a-z, 0-9, _ and -")
        if not 0 <= self.webhook_port < 65536:
            raise ValueError(f"webhook_port must be 0-65535, got {self.webhook_port}")
        if self.webhook_path and not self.webhook_path.startswith("/"):
            raise ValueError(f"webhook_path must start with /, got {self.webhook_path!r}")
        if not 1 <= self.webhook_max_connections <= 100:
            raise ValueError("webhook_max_connections must be 1-100")
        if self.health_max_tick_lag_seconds < 1:
            raise ValueError("health_max_tick_lag_seconds must be at least 1")

    @property
    def webhook_local_path(self) -> str:
        """The path the webhook server answers POSTs on: ``webhook_path``, else the URL's."""
        if self.webhook_path:
            return self.webhook_path
        return urllib.parse.urlsplit(self.webhook_url).path or "/"
        if self.rate_limit_retries < 0:
            raise ValueError("rate_limit_retries must not be negative")


@dataclass
class StorageConfig:
    backend: str = "tinydb"  # tinydb | sql
    path: str = "crm-data"
    url: str = ""

    def __post_init__(self) -> None:
        if self.backend not in ("tinydb", "sql"):
            raise ValueError(f"backend must be tinydb or sql, got {self.backend!r}")
        if self.backend == "tinydb" and not self.path:
            raise ValueError("path must not be empty for the tinydb backend")
        if self.backend == "sql" and not self.url:
            raise ValueError("url is required when backend = sql (or set CRM_BOT_DATABASE_URL)")


@dataclass
class AccessConfig:
    admins: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        for admin in self.admins:
            if admin <= 0:
                raise ValueError(f"admins must be Telegram user ids (positive), got {admin}")


@dataclass
class LocaleConfig:
    default_language: str = "zh"
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    phone_region: str = "CN"

    def __post_init__(self) -> None:
        if self.default_language not in LANGUAGES:
            raise ValueError(f"default_language must be one of {', '.join(LANGUAGES)}, "
                             f"got {self.default_language!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        if self.currency not in babel.Locale("en").currencies:
            raise ValueError(f"currency: unknown ISO 4217 code {self.currency!r}")
        if self.phone_region != self.phone_region.upper() or len(self.phone_region) != 2:
            raise ValueError(f"phone_region must be a two-letter region code, got {self.phone_region!r}")


@dataclass(frozen=True)
class RemindersConfig:
    """Delivery of the reminder outbox (``bot.services.delivery``) and the daily agenda."""

    quiet_hours_start: int = 21  # local hour; no reminders from then ...
    quiet_hours_end: int = 8  # ... until this hour (set both equal to turn quiet hours off)
    max_attempts: int = 5
    digest_threshold: int = 5  # more overdue reminders than this after downtime: one digest
    agenda_hour: int = 8  # local hour of the daily agenda
    catch_up_days: int = 31  # after downtime, every missed day this far back is caught up
    # Transient Bot API trouble: retried with backoff capped at this many minutes ...
    retry_backoff_max_minutes: int = 10
    # ... for this many hours after the reminder fell due; later it goes into the next digest.
    retry_horizon_hours: int = 24

    def __post_init__(self) -> None:
        for name in ("quiet_hours_start", "quiet_hours_end", "agenda_hour"):
            _hour(name, getattr(self, name))
        if self.max_attempts < 1 or self.digest_threshold < 1:
            raise ValueError("max_attempts and digest_threshold must be at least 1")
        if not 1 <= self.catch_up_days <= 366:
            raise ValueError("catch_up_days must be 1-366")
        if self.retry_backoff_max_minutes < 1 or self.retry_horizon_hours < 1:
            raise ValueError("retry_backoff_max_minutes and retry_horizon_hours must be at least 1")

    @property
    def quiet_hours(self) -> tuple[int, int]:
        return (self.quiet_hours_start, self.quiet_hours_end)


@dataclass(frozen=True)
class FestivalsConfig:
    calendar_file: str = ""  # empty: China's default calendar shipped with the bot

    def __post_init__(self) -> None:
        if self.calendar_file:
            from bot.domain.festivals import FestivalConfigError, load_festivals

            try:
                load_festivals(self.calendar_file)
            except (FestivalConfigError, OSError) as exc:
                raise ValueError(f"calendar_file: {exc}") from None


@dataclass(frozen=True)
class BirthdaysConfig:
    lead_days: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.lead_days <= 60:
            raise ValueError("lead_days must be 0-60")


@dataclass(frozen=True)
class ReportsConfig:
    """Manager reports: when they are pushed, and the figures' knobs.

    The knobs feed ``settings``, the domain's ``ReportSettings``, built (and
    validated) once here (see bot/domain/reports.py and docs/clv.md for the figures).
    """

    weekly_day: str = "mon"  # the weekly report (last week) goes out on this day ...
    weekly_hour: int = 9  # ... at this local hour of each manager
    monthly_day: int = 1  # the monthly report (last month) goes out on this day of the month ...
    monthly_hour: int = 9  # ... at this local hour
    follow_up_grace_hours: int = 24
    top_at_risk: int = 10
    clv_lifetime_years: float = 3.0
    clv_min_observation_days: int = 365
    settings: ReportSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.weekly_day not in WEEKDAYS:
            raise ValueError(f"weekly_day must be one of {', '.join(WEEKDAYS)}, got {self.weekly_day!r}")
        for name in ("weekly_hour", "monthly_hour"):
            _hour(name, getattr(self, name))
        if not 1 <= self.monthly_day <= 28:
            raise ValueError(f"monthly_day must be 1-28 (a day every month has), got {self.monthly_day}")
        if self.follow_up_grace_hours < 0:
            raise ValueError("follow_up_grace_hours must not be negative")
        if not 0 <= self.top_at_risk <= 50:
            raise ValueError(f"top_at_risk must be 0-50, got {self.top_at_risk}")
        if self.clv_lifetime_years <= 0:
            raise ValueError("clv_lifetime_years must be positive")
        if self.clv_min_observation_days < 1:
            raise ValueError("clv_min_observation_days must be at least 1")
        object.__setattr__(self, "settings", ReportSettings(
            follow_up_grace=timedelta(hours=self.follow_up_grace_hours),
            top_at_risk=self.top_at_risk,
            clv_lifetime_years=Decimal(str(self.clv_lifetime_years)),
            clv_min_observation_days=self.clv_min_observation_days,
        ))


@dataclass(frozen=True)
class DealsConfig:
    """The sales pipeline (商机): its open stages in order, each with its names, default
    probability, aliases for quick entry and the days after which a deal in it is stuck;
    then the reasons a lost deal may be given.  ``won`` and ``lost`` always follow.

    Lists run in parallel: ``names[i]`` is ``"中文|English"`` of ``stages[i]``; an alias entry
    is ``"<stage>=word|word"``; a lost reason is ``"中文|English"``.  Built (and validated) once
    into ``pipeline``, the domain's ``bot.domain.deals.Pipeline``.
    """

    stages: list[str] = field(default_factory=lambda: list(deal_defaults.STAGES))
    names: list[str] = field(default_factory=lambda: list(deal_defaults.NAMES))
    probabilities: list[int] = field(default_factory=lambda: list(deal_defaults.PROBABILITIES))
    stuck_days: list[int] = field(default_factory=lambda: list(deal_defaults.STUCK_DAYS))
    aliases: list[str] = field(default_factory=lambda: list(deal_defaults.ALIASES))
    lost_reasons: list[str] = field(default_factory=lambda: list(deal_defaults.LOST_REASONS))
    pipeline: Pipeline = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pipeline", build_pipeline(
            self.stages, self.names, self.probabilities, self.stuck_days, self.aliases, self.lost_reasons))


@dataclass(frozen=True)
class ConversationConfig:
    timeout_minutes: int = 60
    persistence_interval_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.timeout_minutes <= 0:
            raise ValueError("timeout_minutes must be positive")
        if self.persistence_interval_seconds <= 0:
            raise ValueError("persistence_interval_seconds must be positive")


@dataclass(frozen=True)
class BackupConfig:
    """The daily backup the running bot takes of itself (``bot.services.archive``)."""

    directory: str = ""  # empty: no scheduled backup
    hour: int = 3  # local hour ([locale] timezone) at or after which the day's backup is taken
    keep: int = 14  # the newest this many backups in the directory are kept
    workbook: bool = False  # also put the XLSX workbook for people in each backup

    def __post_init__(self) -> None:
        _hour("hour", self.hour)
        if self.keep < 1:
            raise ValueError(f"keep must be at least 1, got {self.keep}")


@dataclass(frozen=True)
class NotesConfig:
    # TinyDB backend: also download each note's file into the data directory (note_files/),
    # so that a copy of the directory is a complete export. The SQL backend never does.
    keep_local_copies: bool = False


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"

    def __post_init__(self) -> None:
        if self.level.upper() not in LOG_LEVELS:
            raise ValueError(f"level must be DEBUG, INFO, WARNING or ERROR, got {self.level!r}")


@dataclass(frozen=True)
class VisitsConfig:
    """Visit check-in (外勤签到): how far from the customer's saved location a check-in is flagged."""

    flag_distance_meters: int = 1000

    def __post_init__(self) -> None:
        if self.flag_distance_meters < 1:
            raise ValueError(f"flag_distance_meters must be at least 1, got {self.flag_distance_meters}")


@dataclass
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    locale: LocaleConfig = field(default_factory=LocaleConfig)
    classification: ClassificationRules = field(default_factory=ClassificationRules)
    feedback: FeedbackRules = field(default_factory=FeedbackRules)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    festivals: FestivalsConfig = field(default_factory=FestivalsConfig)
    birthdays: BirthdaysConfig = field(default_factory=BirthdaysConfig)
    churn: ChurnRules = field(default_factory=ChurnRules)
    reorder: ReorderRules = field(default_factory=ReorderRules)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    deals: DealsConfig = field(default_factory=DealsConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    visits: VisitsConfig = field(default_factory=VisitsConfig)
    source: str | None = None  # the file it was read from, if any

    @property
    def file_base_url(self) -> str:
        """Where files download from: explicit, or laid out as a self-hosted Bot API server does."""
        if self.telegram.file_base_url:
            return self.telegram.file_base_url
        base = self.telegram.api_base_url.rstrip("/")
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base + "/file/bot"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.locale.timezone)


ENV_ALIASES: dict[str, tuple[str, str]] = {
    "CRM_BOT_TOKEN": ("telegram", "token"),
    "CRM_BOT_API_BASE_URL": ("telegram", "api_base_url"),
    "CRM_BOT_DATA": ("storage", "path"),
    "CRM_BOT_DATABASE_URL": ("storage", "url"),
    "CRM_BOT_ADMINS": ("access", "admins"),
    "CRM_BOT_WEBHOOK_URL": ("telegram", "webhook_url"),
    "CRM_BOT_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
}

DEFAULT_CONFIG_FILES = ("config.local.toml", "config.toml")


def sections() -> dict[str, type]:
    """Section name -> the dataclass that is that section."""
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name != "source"}


def keys(section: type) -> dict[str, Any]:
    """A section's keys and their type hints (derived fields, ``init=False``, are no keys)."""
    hints = typing.get_type_hints(section)
    return {f.name: hints[f.name] for f in dataclasses.fields(section) if f.init}


def find_config_file(explicit: str | None, environ: typing.Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("CRM_BOT_CONFIG"):
        return Path(environ["CRM_BOT_CONFIG"])
    for name in DEFAULT_CONFIG_FILES:
        if Path(name).is_file():
            return Path(name)
    return None


def load_config(
    path: str | Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    search: bool = True,
) -> Config:
    """Read the file (if any), overlay the environment, build and validate each section once.

    Raises ConfigError.
    """
    environ = os.environ if environ is None else environ
    file = Path(path) if path else (find_config_file(None, environ) if search else None)
    raw: dict[str, Any] = {}
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot be read: {exc}") from None
    known = sections()
    values: dict[str, dict[str, Any]] = {name: {} for name in known}
    for section_name, table in raw.items():
        if section_name not in known:
            raise ConfigError(f"unknown section [{section_name}] (known: {', '.join(known)})")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section_name}] must be a table")
        hints = keys(known[section_name])
        for key, value in table.items():
            values[section_name][key] = _checked(section_name, hints, key, value, f"[{section_name}] {key}")
    for (section_name, key), (var, text) in _environment(environ).items():
        hint = keys(known[section_name])[key]
        value = _parse_env(var, hint, text)
        values[section_name][key] = _checked(section_name, keys(known[section_name]), key, value,
                                             f"{var} ([{section_name}] {key})")
    built: dict[str, Any] = {}
    for section_name, section in known.items():
        try:
            built[section_name] = section(**values[section_name])
        except (ValueError, TypeError) as exc:
            message = str(exc).removeprefix(f"{section_name}.")  # ChurnRules names its section
            raise ConfigError(f"[{section_name}] {message}") from None
    return Config(**built, source=str(file) if file else None)


def _environment(environ: typing.Mapping[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(section, key) -> (variable, text) for every override set; the short fixed names win."""
    overrides: dict[tuple[str, str], tuple[str, str]] = {}
    for section_name, section in sections().items():
        for key in keys(section):
            name = f"CRM_BOT_{section_name}_{key}".upper()
            if name in environ:
                overrides[(section_name, key)] = (name, environ[name])
    for alias, target in ENV_ALIASES.items():
        if alias in environ:
            overrides[target] = (alias, environ[alias])
    return overrides


def _parse_env(var: str, hint: Any, text: str) -> Any:
    """An environment string as a value of ``hint``'s type."""
    try:
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if hint is Decimal:
            return Decimal(text.strip())
        if hint is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if typing.get_origin(hint) is list:
            text = text.strip()
            if text.startswith("["):
                return json.loads(text)
            (item,) = typing.get_args(hint)
            return [item(part.strip()) for part in text.split(",") if part.strip()]
    except (ValueError, json.JSONDecodeError, InvalidOperation):
        raise ConfigError(f"{var}={text!r}: expected {_type_name(hint)}") from None
    return text


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        plural = {int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(typing.get_args(hint)[0], 'values')}"
    return {int: "an integer", float: "a number", Decimal: "a number", bool: "true or false",
            str: "a string"}.get(hint, str(hint))


def _checked(section_name: str, hints: dict[str, Any], key: str, value: Any, where: str) -> Any:
    """``value`` if it has the key's type (numbers widened: int -> float -> Decimal)."""
    if key not in hints:
        raise ConfigError(f"unknown key [{section_name}] {key} (known keys: {', '.join(hints)})")
    hint = hints[key]
    if not _has_type(value, hint):
        raise ConfigError(f"{where} must be {_type_name(hint)}, got {value!r}")
    if hint is float and not isinstance(value, float):
        return float(value)
    if hint is Decimal and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value


def _has_type(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if hint in (float, Decimal):
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def mask_secret(secret: str) -> str:
    if not secret:
        return ""
    if len(secret) <= 8:
        return "****"
    return secret[:4] + "…" + "*" * 4


def render_effective(config: Config) -> str:
    """The effective configuration as TOML-like text, secrets masked."""
    lines = [f"# effective configuration (file: {config.source or 'none, defaults'})"]
    for section_name in sections():
        section = getattr(config, section_name)
        lines.append(f"\n[{section_name}]")
        for key in keys(type(section)):
            value = getattr(section, key)
            if key == "token":
                value = mask_secret(value)
            if key == "webhook_secret" and value:
                value = "****"  # nothing of it: unlike a token's bot id, no part is public
            if key == "url" and value:
                value = _mask_url_password(value)
            if isinstance(value, Decimal):
                value = int(value) if value == value.to_integral_value() else float(value)
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        if section_name == "telegram" and not config.telegram.file_base_url:
            lines.append(f"# file_base_url derived: {config.file_base_url}")
    return "\n".join(lines)


def _mask_url_password(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            user = creds.split(":", 1)[0]
            return f"{scheme}://{user}:****@{host}"
    return url
