"""The Bot API clients: one TLS context per process, and nothing loaded on the loop's first request."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from bot.telegram_request import StatusRequest, tls_context


def test_every_client_shares_one_tls_context() -> None:
    # Each httpx client would otherwise load the CA bundle itself (~0.1 s on the event loop).
    first, second = StatusRequest(), StatusRequest(httpx_kwargs={"event_hooks": {}})
    assert first._client_kwargs["verify"] is tls_context()
    assert second._client_kwargs["verify"] is tls_context()
    assert second._client_kwargs["event_hooks"] == {}


def test_sniffio_is_installed_so_httpcore_does_not_retry_a_failed_import_per_request() -> None:
    # httpcore runs `import sniffio` on every request; without the package that import fails
    # (and is retried) each time: ~7 % of the bot's CPU in the issue 15 profile.
    assert importlib.util.find_spec("sniffio") is not None
    code = (
        "import asyncio, sys\n"
        "from httpcore._synchronization import current_async_library\n"
        "async def main():\n"
        "    assert current_async_library() == 'asyncio'\n"
        "asyncio.run(main())\n"
        "assert 'sniffio' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
