"""`crm-bot console`: scripted through standard input, as the README shows."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.console import html_to_terminal, parse_clock_argument, run_console

REPO = Path(__file__).resolve().parents[3]


def test_piped_console_prints_welcome_and_help_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: PLW1510 - the test checks returncode itself
        [sys.executable, "-m", "bot.cli", "console", "--demo"],
        input="/start\n/help\n",
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "你好，Admin Zhou 周！" in result.stdout
    assert "/language — 切换语言" in result.stdout
    menu = next(line for line in result.stdout.splitlines() if line.strip().startswith("menu:"))
    assert "➕ 新客户" in menu and "👥 员工" in menu and menu.endswith("❓ 帮助 | 🌐 语言")
    assert "Traceback" not in result.stderr


async def run(lines: str, tmp_path: Path, **kwargs) -> str:
    config = load_config(None, environ={"CRM_BOT_DATA": str(tmp_path / "data")}, search=False)
    out = io.StringIO()
    code = await run_console(config, stdin=io.StringIO(lines), stdout=out, **kwargs)
    assert code == 0
    return out.getvalue()


async def test_buttons_are_numbered_and_pressed_by_number_or_label(tmp_path: Path) -> None:
    output = await run("/language\n2\n/language\n中文\n", tmp_path, demo=True)
    assert "[1] 中文   [2] English" in output
    assert "Language set to English." in output
    assert "语言已切换为中文。" in output


async def test_switching_users_and_unknown_users(tmp_path: Path) -> None:
    output = await run("/as 1004\n/start\n/as 99\n/start\n", tmp_path, demo=True)
    assert "now chatting as Rep Anna Smith" in output
    assert "Hello, <b>" not in output and "Hello, Rep Anna Smith!" in output
    assert "<code>99</code>" not in output and "99" in output.split("/as 99")[1]


async def test_console_without_demo_makes_the_console_user_admin(tmp_path: Path) -> None:
    output = await run("/start\n", tmp_path)
    assert "管理员" in output  # default language zh, console user 1 is admin


async def test_clock_moves_forward_only(tmp_path: Path) -> None:
    output = await run("/clock +2h\n/clock 2001-01-01 00:00\n/clock soon\n", tmp_path, demo=True)
    assert "the clock only moves forward" in output
    assert "use +30m, +2h, +1d" in output


def test_clock_arguments() -> None:
    now = datetime(2026, 2, 15, 1, 0, tzinfo=UTC)
    tz = ZoneInfo("Asia/Shanghai")
    assert parse_clock_argument("+2h", now, tz) == now + timedelta(hours=2)
    assert parse_clock_argument("+1d", now, tz) == now + timedelta(days=1)
    assert parse_clock_argument("+30m", now, tz) == now + timedelta(minutes=30)
    assert parse_clock_argument("2026-02-16 09:00", now, tz) == datetime(2026, 2, 16, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_clock_argument("tomorrow", now, tz)


def test_html_is_rendered_readably() -> None:
    assert html_to_terminal("<b>A</b> &amp; <a href='https://x.y'>link</a>") == "A & link <https://x.y>"


async def test_documents_from_the_bot_are_saved_and_their_path_shown(tmp_path: Path) -> None:
    output = await run("/audit\n", tmp_path, demo=True)
    saved = [line for line in output.splitlines() if "[document saved to " in line]
    assert saved, output
    path = Path(saved[0].split("[document saved to ", 1)[1].rstrip("]"))
    assert path.name.endswith(".csv") and path.read_bytes().startswith(b"\xef\xbb\xbf")


async def test_clock_makes_the_scheduler_catch_up(tmp_path: Path) -> None:
    output = await run("/as 1003\n/clock 2030-01-02 10:30\n", tmp_path, demo=True)
    assert "While you were away" in output or "你不在的时候" in output or "跟进" in output
