from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, mask_secret, render_effective

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_repository_config_toml_equals_the_defaults() -> None:
    documented = load_config(REPO / "config.toml", environ={})
    defaults = load_config(None, environ={}, search=False)
    documented.source = defaults.source = None
    assert documented == defaults


def test_file_base_url_is_derived_from_the_api_url() -> None:
    config = load_config(None, environ={"CRM_BOT_API_BASE_URL": "http://127.0.0.1:8081/bot"}, search=False)
    assert config.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert load_config(None, environ={}, search=False).file_base_url == "https://api.telegram.org/file/bot"


def test_environment_overrides_every_key_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[locale]\ntimezone = "Europe/Berlin"\n')
    config = load_config(
        path,
        environ={
            "CRM_BOT_TOKEN": "123:abc",
            "CRM_BOT_DATA": "/srv/crm",
            "CRM_BOT_DATABASE_URL": "postgresql://x@db/crm",
            "CRM_BOT_ADMINS": "11, 22",
            "CRM_BOT_LOCALE_TIMEZONE": "America/New_York",
            "CRM_BOT_TELEGRAM_WEBHOOK_PORT": "9000",
            "CRM_BOT_CONVERSATION_PERSISTENCE_INTERVAL_SECONDS": "0.5",
        },
    )
    assert config.telegram.token == "123:abc"
    assert config.storage.path == "/srv/crm"
    assert config.storage.url == "postgresql://x@db/crm"
    assert config.access.admins == [11, 22]
    assert config.locale.timezone == "America/New_York"
    assert config.telegram.webhook_port == 9000
    assert config.conversation.persistence_interval_seconds == 0.5


def test_short_env_names_win_over_long_ones() -> None:
    config = load_config(
        None,
        environ={"CRM_BOT_TOKEN": "short", "CRM_BOT_TELEGRAM_TOKEN": "long"},
        search=False,
    )
    assert config.telegram.token == "short"


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("[telegram\ntoken = 1", {}, "not valid TOML"),
        ("[telegramm]\ntoken = ''", {}, "unknown section [telegramm]"),
        ("[telegram]\ntokn = ''", {}, "unknown key [telegram] tokn"),
        ("[telegram]\nwebhook_port = 'x'", {}, "[telegram] webhook_port must be an integer"),
        ("[access]\nadmins = ['me']", {}, "[access] admins must be a list of integers"),
        ("[access]\nadmins = 5", {}, "[access] admins must be a list of integers"),
        ("[locale]\ntimezone = 'Mars/Olympus'", {}, "[locale] timezone: unknown time zone 'Mars/Olympus'"),
        ("[locale]\ndefault_language = 'fr'", {}, "[locale] default_language must be one of zh, en"),
        ("[locale]\ncurrency = 'XYZ1'", {}, "[locale] currency"),
        ("[storage]\nbackend = 'mongo'", {}, "[storage] backend must be tinydb or sql"),
        ("[storage]\nbackend = 'sql'", {}, "[storage] url is required"),
        ("[telegram]\nmode = 'webhook'", {}, "[telegram] webhook_url is required"),
        ("locale = 3", {}, "[locale] must be a table"),
        ("", {"CRM_BOT_ADMINS": "a,b"}, "CRM_BOT_ADMINS='a,b': expected a list of integers"),
        ("", {"CRM_BOT_LOCALE_TIMEZONE": "Nowhere/City"}, "unknown time zone 'Nowhere/City'"),
        ("", {"CRM_BOT_TELEGRAM_WEBHOOK_PORT": "80x"}, "CRM_BOT_TELEGRAM_WEBHOOK_PORT='80x': expected an integer"),
    ],
)
def test_bad_configs_name_the_key(tmp_path: Path, text: str, environ: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ=environ)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})


def test_token_is_masked_in_effective_config() -> None:
    config = load_config(None, environ={"CRM_BOT_TOKEN": "123456789:AAsecretsecretsecret"}, search=False)
    text = render_effective(config)
    assert "AAsecretsecretsecret" not in text
    assert mask_secret("123456789:AAsecretsecretsecret") in text


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 - the test checks returncode itself
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_command_prints_one_line_on_a_bad_config(tmp_path: Path) -> None:
    write(tmp_path, "[locale]\ntimezone = 'Bad/Zone'\n")
    result = run_cli("check", "--config", str(tmp_path / "config.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "[locale] timezone" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_command_prints_the_effective_config_masked(tmp_path: Path) -> None:
    result = run_cli("check", cwd=tmp_path, env={"CRM_BOT_TOKEN": "987654321:TOPSECRETTOKENVALUE",
                                                 "CRM_BOT_ADMINS": "111111111"})
    assert result.returncode == 0, result.stderr
    assert "TOPSECRETTOKENVALUE" not in result.stdout
    assert 'timezone = "Asia/Shanghai"' in result.stdout
    assert "configuration OK" in result.stdout


def test_run_without_token_points_to_the_console(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "crm-bot console --demo" in result.stderr
    assert "Traceback" not in result.stderr


def test_calendar_command_prints_the_years_festivals(tmp_path: Path) -> None:
    result = run_cli("calendar", "--year", "2027", "--language", "zh", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "2027-02-06 春节" in lines and "2027-09-15 中秋节" in lines
    assert lines == sorted(lines)


def test_calendar_command_refuses_years_outside_the_checked_range(tmp_path: Path) -> None:
    result = run_cli("calendar", "--year", "1800", cwd=tmp_path)
    assert result.returncode == 2 and "1901" in result.stderr
