"""`crm-bot console`: scripted through standard input, as the README shows."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import bot.console
from bot.config import load_config
from bot.console import html_to_terminal, parse_clock_argument, run_console, what_telegram_does
from bot.sandbox.server import SandboxServer

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
    after_help = result.stdout.split("› /help", 1)[1]  # the bot's help, then the console's
    assert "#2 " in after_help and "12.2 " in after_help and "/location LAT LON" in after_help
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
    output = await run("/language\n#2\n/language\n中文\n", tmp_path, demo=True)
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


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> list[SandboxServer]:
    """The sandbox servers the console starts, kept for inspection after it exits."""
    started: list[SandboxServer] = []

    class RecordedServer(SandboxServer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(bot.console, "SandboxServer", RecordedServer)
    return started


def user_messages(server: SandboxServer, user_id: int) -> list:
    return [m for m in server.chat_messages(user_id) if not m.from_bot]


# ---- point 4: every kind of button, and no action ends the console ---------------------------

async def test_a_copy_button_shows_the_copied_text_and_the_console_goes_on(tmp_path: Path) -> None:
    output = await run("/as 1002\n/invite\n#1\n#1\n#2\n📋 复制链接\n/start\n", tmp_path, demo=True)
    link = next(line for line in output.splitlines() if "https://t.me/" in line and "start=" in line)
    assert f"📋 copied to the clipboard: {link.strip()}" in output
    assert "你好，Manager Chen 陈经理！" in output.split("📋 copied")[1]  # still running


def test_each_kind_of_button_says_what_telegram_does() -> None:
    assert what_telegram_does({"text": "a", "copy_text": {"text": "hi"}}, "b") == (
        "📋 copied to the clipboard: hi")
    assert "opens https://x.y" in what_telegram_does({"text": "a", "url": "https://x.y"}, "b")
    assert "https://l.y" in what_telegram_does({"text": "a", "login_url": {"url": "https://l.y"}}, "b")
    assert "web app https://w.y" in what_telegram_does({"text": "a", "web_app": {"url": "https://w.y"}}, "b")
    assert "@bot 张" in what_telegram_does({"text": "a", "switch_inline_query": "张"}, "bot")
    assert "in this chat: @bot 张" in what_telegram_does(
        {"text": "a", "switch_inline_query_current_chat": "张"}, "bot")
    assert "@bot q" in what_telegram_does(
        {"text": "a", "switch_inline_query_chosen_chat": {"query": "q"}}, "bot")


async def test_what_the_sandbox_refuses_is_printed_not_raised(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    output = await run(f"/file {empty}\n/language\n#7\n9.1\n/start\n", tmp_path, demo=True)
    assert "(Telegram does not send empty files)" in output
    assert "has buttons 1 to 2" in output and "(no bot message (9) in this chat" in output
    assert "你好，Admin Zhou 周！" in output


# ---- point 5: any visible message's buttons -------------------------------------------------

async def test_an_older_messages_buttons_are_pressed_with_message_dot_button(tmp_path: Path) -> None:
    output = await run("/language\n/find 王强\n2.2\n", tmp_path, demo=True)
    assert "(2) 🤖 " in output and "[1] 王强 · 强盛建材" in output.split("› 2.2")[0]
    assert "Language set to English." in output.split("› 2.2")[1]


# ---- point 6: piped lines wait for an idle bot ----------------------------------------------

async def test_each_piped_line_is_read_only_once_the_bot_is_idle(
    tmp_path: Path, servers: list[SandboxServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    idle_waits = 0
    real_wait_idle = SandboxServer.wait_idle

    async def counted_wait_idle(self: SandboxServer, timeout: float = 10.0) -> None:
        nonlocal idle_waits
        await real_wait_idle(self, timeout)
        idle_waits += 1

    monkeypatch.setattr(SandboxServer, "wait_idle", counted_wait_idle)
    lines = ["/as 1004\n", "/report\n", "#3\n", "#3\n"]
    waits_when_read: list[int] = []

    class Script(io.StringIO):
        def readline(self, *args) -> str:  # type: ignore[override]
            waits_when_read.append(idle_waits)
            return lines.pop(0) if lines else ""

    config = load_config(None, environ={"CRM_BOT_DATA": str(tmp_path / "data")}, search=False)
    await run_console(config, demo=True, stdin=Script(), stdout=io.StringIO())
    assert len(waits_when_read) == 5
    # before every line after the first, the console waited for the bot to be idle
    assert all(b > a for a, b in itertools.pairwise(waits_when_read))


# ---- point 7: digits are text; #N and M.N press ---------------------------------------------

async def test_a_digit_is_the_answer_at_a_rating_step_not_a_button(tmp_path: Path) -> None:
    output = await run(
        "/as 1003\n/find 王强\n#1\n💬 客户反馈\n#1\n#1\n很满意\n5\n2\n", tmp_path, demo=True
    )
    assert "CSAT：5/5 · NPS：2/10" in output


async def test_a_plain_digit_is_sent_as_text_where_buttons_are_offered(
    tmp_path: Path, servers: list[SandboxServer]
) -> None:
    output = await run("/language\n2\n", tmp_path, demo=True)
    assert "Language set to English." not in output
    assert [m.text for m in user_messages(servers[0], 1001)] == ["/language", "2"]
    output = await run("/language\n\\#2\n", tmp_path, demo=True)
    assert "Language set to English." not in output


# ---- point 8: the demo data directory is removed ------------------------------------------

@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


async def test_the_demo_data_directory_is_removed_on_exit(tmp_path: Path, temp_root: Path) -> None:
    output = await run("/start\n", tmp_path, demo=True)
    assert "removed on exit" in output
    assert list(temp_root.iterdir()) == []


async def test_the_demo_data_directory_is_removed_after_ctrl_c(temp_root: Path) -> None:
    reading, release = threading.Event(), threading.Event()

    class Keyboard(io.StringIO):
        def readline(self, *args) -> str:  # type: ignore[override]
            reading.set()
            release.wait(30)
            return ""

    config = load_config(None, environ={}, search=False)
    console = asyncio.create_task(run_console(config, demo=True, stdin=Keyboard(), stdout=io.StringIO()))
    assert await asyncio.to_thread(reading.wait, 30)
    assert [p.name[:17] for p in temp_root.iterdir()] == ["crm-console-demo-"]
    console.cancel()  # what asyncio.run does on Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await console
    release.set()
    assert list(temp_root.iterdir()) == []


async def test_the_demo_data_directory_is_removed_after_an_error(temp_root: Path) -> None:
    class Broken(io.StringIO):
        def readline(self, *args) -> str:  # type: ignore[override]
            raise OSError("terminal gone")

    config = load_config(None, environ={}, search=False)
    with pytest.raises(OSError, match="terminal gone"):
        await run_console(config, demo=True, stdin=Broken(), stdout=io.StringIO())
    assert list(temp_root.iterdir()) == []


# ---- point 9: documents, photos, locations, inline queries ---------------------------------

async def test_documents_photos_locations_and_inline_queries_can_be_sent(
    tmp_path: Path, servers: list[SandboxServer]
) -> None:
    document = tmp_path / "customers.csv"
    document.write_text("name,phone\n张伟,13800138000\n", encoding="utf-8")
    photo = tmp_path / "card.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    output = await run(
        f"/file {document}\n/photo {photo}\n/location 31.23 121.47\n/inline 王强\n/pick 1\n",
        tmp_path, demo=True,
    )
    banner = output.split("›", 1)[0]
    for usage in ("/file PATH", "/photo PATH", "/location LAT LON", "/inline QUERY"):
        assert usage in banner
    sent = user_messages(servers[0], 1001)
    assert sent[0].document is not None and sent[0].document.file_name == "customers.csv"
    assert sent[1].photo is not None
    assert sent[2].location == {"latitude": 31.23, "longitude": 121.47}
    assert "inline results for @" in output and "[1] 王强" in output
    assert sent[3].via_bot is not None and "(you sent: " in output
    assert "Traceback" not in output


async def test_a_live_location_is_shared_then_moved(tmp_path: Path, servers: list[SandboxServer]) -> None:
    """``/live LAT LON SECONDS`` shares a live location; ``/live LAT LON`` then moves it (an edit)."""
    output = await run("/live 31.23 121.47 600\n/live 31.24 121.48\n/live nonsense\n", tmp_path, demo=True)
    [live] = [m for m in user_messages(servers[0], 1001) if m.location is not None]
    assert live.location == {"latitude": 31.24, "longitude": 121.48, "live_period": 600}
    assert live.edited
    assert "/live LATITUDE LONGITUDE [SECONDS]" in output and "Traceback" not in output
