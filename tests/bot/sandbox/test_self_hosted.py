"""`crm-bot run` against `crm-bot sandbox --port N`, as against a self-hosted Bot API server.

Two real processes, talking HTTP: exactly what a user does with
CRM_BOT_API_BASE_URL pointing at their own Bot API server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control(port: int, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/control{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            control(port, "/info")
            return
        except OSError:  # another process is still binding its port: poll until it answers
            time.sleep(0.1)
    raise AssertionError("the sandbox did not start")


def test_run_against_a_sandbox_started_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    bot = None
    try:
        wait_for(port, time.monotonic() + 30)
        token = control(port, "/info")["result"]["token"]
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env={**env, "CRM_BOT_TOKEN": token, "CRM_BOT_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
                 "CRM_BOT_ADMINS": "4242", "CRM_BOT_DATA": str(tmp_path / "data"),
                 "CRM_BOT_LOCALE_DEFAULT_LANGUAGE": "en"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        control(port, "/users", {"id": 4242, "first_name": "Root", "language_code": "en"})
        reply = control(port, "/users/4242/send", {"text": "/start", "timeout": 30})
        texts = [m["text"] for m in reply["result"]]
        assert any("Hello" in t for t in texts), texts
        reply = control(port, "/users/4242/send", {"text": "/add Zhang Wei 13800138000", "timeout": 30})
        assert "check before saving" in reply["result"][-1]["text"]
    finally:
        if bot is not None:
            bot.send_signal(signal.SIGTERM)
            out, _ = bot.communicate(timeout=30)
            assert bot.returncode == 0, out
            assert token not in out  # the token is never logged
        sandbox.send_signal(signal.SIGINT)
        sandbox.communicate(timeout=30)
