"""The ``crm-bot`` command: failures in one line, warnings, pipes, --version, no token shown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot import cli
from bot.config import load_config
from bot.runner import run_until_signal, unreachable_line
from bot.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAsecret-token-never-printed"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "CRM_BOT_DATA": str(tmp_path / "data"),
            **extra}


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once, no internet involved."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_with_an_unreachable_bot_api_says_so_in_one_line_and_retries(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/bot"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path,
        env=clean_env(tmp_path, CRM_BOT_TOKEN=TOKEN, CRM_BOT_API_BASE_URL=url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    try:
        retries: list[str] = []
        lines: list[str] = []
        while len(retries) < 2:
            line = process.stderr.readline()
            assert line, f"crm-bot run ended early: {lines}"
            lines.append(line)
            if "retrying" in line:
                retries.append(line.strip())
        process.send_signal(signal.SIGINT)
        rest_out, rest_err = process.communicate(timeout=30)
    finally:
        watchdog.cancel()
    assert retries[0] == (f"crm-bot: cannot reach the Bot API at {url}: httpx.ConnectError: "
                          "All connection attempts failed; retrying in 1 s (Ctrl-C stops)")
    assert retries[1].endswith("retrying in 2 s (Ctrl-C stops)")  # backing off
    everything = "".join(lines) + rest_err + rest_out
    assert "Traceback" not in everything and TOKEN not in everything and "SECRET" not in everything
    assert process.returncode == 0


def test_the_token_is_redacted_from_the_failure_line() -> None:
    config = load_config(None, environ={"CRM_BOT_TOKEN": TOKEN}, search=False)
    error = NetworkError(f"httpx.ConnectError: https://api.telegram.org/bot{TOKEN}/getMe failed")
    line = unreachable_line(config, error, 4)
    assert TOKEN not in line and "/bot[token]/getMe" in line and "retrying in 4 s" in line


async def test_a_refused_token_is_one_line_and_final(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    async with SandboxServer() as server:
        config = load_config(None, environ={
            "CRM_BOT_TOKEN": TOKEN, "CRM_BOT_API_BASE_URL": server.base_url,
            "CRM_BOT_DATA": str(tmp_path / "data"),
        }, search=False)
        assert await run_until_signal(config, stop=asyncio.Event()) == 2
    err = capsys.readouterr().err
    assert err.startswith("crm-bot: the Bot API refused the bot token") and err.count("\n") == 1
    assert TOKEN not in err


def test_check_warns_without_a_token_or_admins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CRM_BOT_TOKEN", "CRM_BOT_ADMINS", "CRM_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["check"]) == 0
    out, err = capsys.readouterr()
    assert "configuration OK" not in out
    assert out.rstrip().endswith("configuration valid, with 2 warning(s)")
    assert "warning: no bot token" in err and "warning: no admins" in err

    monkeypatch.setenv("CRM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CRM_BOT_ADMINS", "111111111")
    assert cli.main(["check"]) == 0
    out, err = capsys.readouterr()
    assert out.rstrip().endswith("configuration OK") and err == ""
    assert TOKEN not in out


def test_check_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` that has already stopped reading
    try:
        result = subprocess.run(  # noqa: PLW1510 - the test checks returncode itself
            [sys.executable, "-m", "bot.cli", "check"], cwd=tmp_path, env=clean_env(tmp_path),
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )
    finally:
        os.close(write_end)
    assert "BrokenPipeError" not in result.stderr and "Traceback" not in result.stderr
    assert result.returncode == 141


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"crm-bot {cli.version()}"
    assert cli.version()[0].isdigit()


async def _run_output(tmp_path: Path, api_base_url: str) -> tuple[int, str]:
    """All that ``crm-bot run`` at DEBUG writes (stdout and stderr) against ``api_base_url``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path,
        env=clean_env(tmp_path, CRM_BOT_TOKEN=TOKEN, CRM_BOT_API_BASE_URL=api_base_url,
                      CRM_BOT_LOGGING_LEVEL="DEBUG"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, (out + err).decode()


async def test_no_output_of_a_refused_start_carries_the_token(tmp_path: Path) -> None:
    async with SandboxServer() as server:  # its own token: ours is refused, 401
        code, output = await _run_output(tmp_path, server.base_url)
        assert code == 2 and "refused the bot token" in output and "DEBUG" in output
        assert TOKEN not in output and "bot[token]" in output
        # a wrong path in front of the right server: 404
        code, output = await _run_output(tmp_path, server.base_url.replace("/bot", "/wrong/bot"))
        assert code == 2 and "refused the bot token" in output
        assert TOKEN not in output


async def test_no_output_carries_the_token_when_the_server_echoes_the_url(tmp_path: Path) -> None:
    """A proxy's error page that quotes the request path ends up in PTB's exception text."""
    from aiohttp import web

    status = {"code": 0}

    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=status["code"], text=f"<html>no page {request.path}</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        for code in (400, 401, 403, 404, 409, 200):
            status["code"] = code
            _, output = await _run_output(tmp_path, f"http://127.0.0.1:{port}/x/bot")
            assert "getMe" in output, (code, output)
            assert TOKEN not in output and TOKEN.split(":")[1] not in output, (code, output)
    finally:
        await runner.cleanup()
