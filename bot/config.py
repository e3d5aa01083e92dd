"""Configuration: ``config.toml`` overlaid by environment variables.

Every key has a default (the dataclasses below; ``config.toml`` in the
repository documents the same values).  Every key can be overridden by the
environment variable ``CRM_BOT_<SECTION>_<KEY>`` (upper case), and a few
have the fixed short names DESIGN.md promises (``CRM_BOT_TOKEN``,
``CRM_BOT_API_BASE_URL``, ``CRM_BOT_DATA``, ``CRM_BOT_DATABASE_URL``,
``CRM_BOT_ADMINS``).  Anything wrong — bad TOML, an unknown section or
key, a wrong type, an unknown time zone — raises ``ConfigError`` whose
message is one line naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import babel

LANGUAGES = ("zh", "en")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TELEGRAM_API = "https://api.telegram.org/bot"


class ConfigError(Exception):
    """A configuration problem, with a message fit to print as one line."""


@dataclass
class TelegramConfig:
    token: str = ""
    api_base_url: str = TELEGRAM_API
    file_base_url: str = ""  # empty: derived from api_base_url
    mode: str = "polling"  # polling | webhook
    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_secret: str = ""
    rate_limit_retries: int = 3


@dataclass
class StorageConfig:
    backend: str = "tinydb"  # tinydb | sql
    path: str = "crm-data"
    url: str = ""


@dataclass
class AccessConfig:
    admins: list[int] = field(default_factory=list)


@dataclass
class LocaleConfig:
    default_language: str = "zh"
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    phone_region: str = "CN"


@dataclass
class ClassificationConfig:
    """Thresholds of the value tier and lifecycle stage (see bot/domain/classification.py)."""

    window_days: int = 365
    high_revenue: float = 100_000
    mid_revenue: float = 20_000
    high_frequency: int = 6
    mid_frequency: int = 3
    new_days: int = 30
    at_risk_factor: float = 2.0
    default_gap_days: int = 90
    min_gap_days: int = 14
    at_risk_days: int = 60
    churned_days: int = 180


@dataclass
class FeedbackConfig:
    """How soon feedback must be answered, by severity, and when an overdue one goes to the manager."""

    due_hours_high: int = 24
    due_hours_medium: int = 72
    due_hours_low: int = 168
    escalate_after_hours: int = 48
    edit_window_hours: int = 24  # reps may edit or delete their own entries this long


@dataclass
class RemindersConfig:
    """Delivery of the reminder outbox."""

    quiet_hours_start: int = 21  # local hour; no reminders from then ...
    quiet_hours_end: int = 8  # ... until this hour (set both equal to turn quiet hours off)
    max_attempts: int = 5
    digest_threshold: int = 5  # more overdue reminders than this after downtime: one digest
    agenda_hour: int = 8  # local hour of the daily agenda


@dataclass
class FestivalsConfig:
    calendar_file: str = ""  # empty: China's default calendar shipped with the bot


@dataclass
class BirthdaysConfig:
    lead_days: int = 1


@dataclass
class ChurnConfig:
    """Churn-warning scoring (see bot/domain/churn.py for what each key does)."""

    cadence_high_days: int = 14
    cadence_mid_days: int = 30
    cadence_low_days: int = 60
    cadence_untiered_days: int = 90
    weight_no_contact: int = 40
    weight_purchase_overdue: int = 30
    weight_purchase_frequency_falling: int = 20
    weight_open_complaints: int = 30
    weight_low_csat: int = 20
    weight_nps_detractor: int = 15
    threshold: int = 50
    complaints_for_full_weight: int = 2
    low_csat_max: int = 2
    nps_detractor_max: int = 6
    rating_window_days: int = 180
    frequency_window_days: int = 90
    frequency_min_before: int = 2
    frequency_falling_ratio: float = 0.5
    min_purchase_gap_days: int = 7
    unanswered_counts_as_contact: bool = True


@dataclass
class ReportsConfig:
    """Manager reports (see bot/domain/reports.py and docs/clv.md for the figures)."""

    weekly_day: str = "mon"  # the weekly report (last week) goes out on this day ...
    weekly_hour: int = 9  # ... at this local hour of each manager
    monthly_day: int = 1  # the monthly report (last month) goes out on this day of the month ...
    monthly_hour: int = 9  # ... at this local hour
    follow_up_grace_hours: int = 24
    top_at_risk: int = 10
    clv_lifetime_years: float = 3.0
    clv_min_observation_days: int = 365


@dataclass
class ConversationConfig:
    timeout_minutes: int = 60
    persistence_interval_seconds: float = 2.0


@dataclass
class LoggingConfig:
    level: str = "INFO"


@dataclass
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    locale: LocaleConfig = field(default_factory=LocaleConfig)
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    festivals: FestivalsConfig = field(default_factory=FestivalsConfig)
    birthdays: BirthdaysConfig = field(default_factory=BirthdaysConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    conversation: ConversationConfig = field(default_factory=ConversationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
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
}

DEFAULT_CONFIG_FILES = ("config.local.toml", "config.toml")


def sections() -> dict[str, type]:
    return {
        f.name: typing.get_type_hints(Config)[f.name]
        for f in dataclasses.fields(Config)
        if f.name != "source"
    }


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
    """Read the file (if any), overlay the environment, validate. Raises ConfigError."""
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
    config = Config(source=str(file) if file else None)
    known = sections()
    for section_name, values in raw.items():
        if section_name not in known:
            raise ConfigError(f"unknown section [{section_name}] (known: {', '.join(known)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section_name}] must be a table")
        section = getattr(config, section_name)
        for key, value in values.items():
            _set(section_name, section, key, value, origin="config")
    _apply_environment(config, environ)
    validate(config)
    return config


def _apply_environment(config: Config, environ: typing.Mapping[str, str]) -> None:
    overrides: dict[tuple[str, str], tuple[str, str]] = {}
    for section_name in sections():
        for f in dataclasses.fields(getattr(config, section_name)):
            name = f"CRM_BOT_{section_name}_{f.name}".upper()
            if name in environ:
                overrides[(section_name, f.name)] = (name, environ[name])
    for alias, target in ENV_ALIASES.items():  # the short fixed names win
        if alias in environ:
            overrides[target] = (alias, environ[alias])
    for (section_name, key), (var, text) in overrides.items():
        section = getattr(config, section_name)
        hint = typing.get_type_hints(type(section))[key]
        _set(section_name, section, key, _parse_env(var, hint, text), origin=var)


def _parse_env(var: str, hint: Any, text: str) -> Any:
    try:
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
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
    except (ValueError, json.JSONDecodeError):
        raise ConfigError(f"{var}={text!r}: expected {_type_name(hint)}") from None
    return text


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        plural = {int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(typing.get_args(hint)[0], 'values')}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        hint, str(hint)
    )


def _set(section_name: str, section: Any, key: str, value: Any, *, origin: str) -> None:
    hints = typing.get_type_hints(type(section))
    where = f"[{section_name}] {key}" if origin == "config" else f"{origin} ([{section_name}] {key})"
    if key not in hints:
        known = ", ".join(hints)
        raise ConfigError(f"unknown key [{section_name}] {key} (known keys: {known})")
    hint = hints[key]
    if not _has_type(value, hint):
        raise ConfigError(f"{where} must be {_type_name(hint)}, got {value!r}")
    if hint is float and isinstance(value, int):
        value = float(value)
    setattr(section, key, value)


def _has_type(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def validate(config: Config) -> None:
    t, s, loc = config.telegram, config.storage, config.locale
    if t.mode not in ("polling", "webhook"):
        raise ConfigError(f"[telegram] mode must be polling or webhook, got {t.mode!r}")
    if not t.api_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"[telegram] api_base_url must be an http(s) URL, got {t.api_base_url!r}")
    if t.mode == "webhook" and not t.webhook_url:
        raise ConfigError("[telegram] webhook_url is required when mode = webhook")
    if not 0 < t.webhook_port < 65536:
        raise ConfigError(f"[telegram] webhook_port must be 1-65535, got {t.webhook_port}")
    if t.rate_limit_retries < 0:
        raise ConfigError("[telegram] rate_limit_retries must not be negative")
    if s.backend not in ("tinydb", "sql"):
        raise ConfigError(f"[storage] backend must be tinydb or sql, got {s.backend!r}")
    if s.backend == "tinydb" and not s.path:
        raise ConfigError("[storage] path must not be empty for the tinydb backend")
    if s.backend == "sql" and not s.url:
        raise ConfigError("[storage] url is required when backend = sql (or set CRM_BOT_DATABASE_URL)")
    for admin in config.access.admins:
        if admin <= 0:
            raise ConfigError(f"[access] admins must be Telegram user ids (positive), got {admin}")
    if loc.default_language not in LANGUAGES:
        raise ConfigError(
            f"[locale] default_language must be one of {', '.join(LANGUAGES)}, "
            f"got {loc.default_language!r}"
        )
    try:
        ZoneInfo(loc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[locale] timezone: unknown time zone {loc.timezone!r}") from None
    if loc.currency not in babel.Locale("en").currencies:
        raise ConfigError(f"[locale] currency: unknown ISO 4217 code {loc.currency!r}")
    if loc.phone_region != loc.phone_region.upper() or len(loc.phone_region) != 2:
        raise ConfigError(f"[locale] phone_region must be a two-letter region code, got {loc.phone_region!r}")
    c = config.classification
    if c.mid_revenue > c.high_revenue or c.mid_revenue < 0:
        raise ConfigError("[classification] mid_revenue must be between 0 and high_revenue")
    if c.mid_frequency > c.high_frequency or c.mid_frequency < 1:
        raise ConfigError("[classification] mid_frequency must be between 1 and high_frequency")
    if not 0 < c.at_risk_days <= c.churned_days:
        raise ConfigError("[classification] at_risk_days must be positive and at most churned_days")
    for name in ("window_days", "new_days", "default_gap_days", "min_gap_days"):
        if getattr(c, name) <= 0:
            raise ConfigError(f"[classification] {name} must be positive")
    if c.at_risk_factor <= 0:
        raise ConfigError("[classification] at_risk_factor must be positive")
    f = config.feedback
    for name in ("due_hours_high", "due_hours_medium", "due_hours_low", "escalate_after_hours",
                 "edit_window_hours"):
        if getattr(f, name) <= 0:
            raise ConfigError(f"[feedback] {name} must be positive")
    r = config.reminders
    for name in ("quiet_hours_start", "quiet_hours_end", "agenda_hour"):
        if not 0 <= getattr(r, name) <= 23:
            raise ConfigError(f"[reminders] {name} must be an hour 0-23, got {getattr(r, name)}")
    if r.max_attempts < 1 or r.digest_threshold < 1:
        raise ConfigError("[reminders] max_attempts and digest_threshold must be at least 1")
    if not 0 <= config.birthdays.lead_days <= 60:
        raise ConfigError("[birthdays] lead_days must be 0-60")
    try:
        from bot.domain.churn import ChurnRules

        ChurnRules(**dataclasses.asdict(config.churn))
    except ValueError as exc:
        raise ConfigError(f"[churn] {exc}") from None
    rp = config.reports
    if rp.weekly_day not in WEEKDAYS:
        raise ConfigError(f"[reports] weekly_day must be one of {', '.join(WEEKDAYS)}, got {rp.weekly_day!r}")
    for name in ("weekly_hour", "monthly_hour"):
        if not 0 <= getattr(rp, name) <= 23:
            raise ConfigError(f"[reports] {name} must be an hour 0-23, got {getattr(rp, name)}")
    if not 1 <= rp.monthly_day <= 28:
        raise ConfigError(f"[reports] monthly_day must be 1-28 (a day every month has), got {rp.monthly_day}")
    if rp.follow_up_grace_hours < 0:
        raise ConfigError("[reports] follow_up_grace_hours must not be negative")
    if not 0 <= rp.top_at_risk <= 50:
        raise ConfigError(f"[reports] top_at_risk must be 0-50, got {rp.top_at_risk}")
    if rp.clv_lifetime_years <= 0:
        raise ConfigError("[reports] clv_lifetime_years must be positive")
    if rp.clv_min_observation_days < 1:
        raise ConfigError("[reports] clv_min_observation_days must be at least 1")
    if config.festivals.calendar_file:
        from bot.domain.festivals import FestivalConfigError, load_festivals

        try:
            load_festivals(config.festivals.calendar_file)
        except (FestivalConfigError, OSError) as exc:
            raise ConfigError(f"[festivals] calendar_file: {exc}") from None
    if config.conversation.timeout_minutes <= 0:
        raise ConfigError("[conversation] timeout_minutes must be positive")
    if config.conversation.persistence_interval_seconds <= 0:
        raise ConfigError("[conversation] persistence_interval_seconds must be positive")
    if config.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[logging] level must be DEBUG, INFO, WARNING or ERROR, got {config.logging.level!r}")


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
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if f.name in ("token", "webhook_secret"):
                value = mask_secret(value)
            if f.name == "url" and value:
                value = _mask_url_password(value)
            lines.append(f"{f.name} = {json.dumps(value, ensure_ascii=False)}")
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
