"""File storage: image headers, ids, directory-backed storage, the CLI entry point."""

from __future__ import annotations

import asyncio
import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot.sandbox import SandboxServer, serve_forever
from bot.sandbox.files import FileStore, image_size
from tests.helpers import ptb_bot


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def test_image_size_from_headers(png: Callable[[int, int], bytes]) -> None:
    assert image_size(png(640, 480)) == (640, 480)
    assert image_size(jpeg(1280, 720)) == (1280, 720)
    for kind in ("GIF", "WEBP"):
        encoded = io.BytesIO()
        Image.new("RGB", (32, 16)).save(encoded, kind)
        assert image_size(encoded.getvalue()) == (32, 16), kind
    assert image_size(b"plain text") == (0, 0)
    assert image_size(b"\xff\xd8\xff") == (0, 0)  # truncated JPEG


def test_file_store_ids_and_paths(tmp_path: Path, png: Callable[[int, int], bytes]) -> None:
    store = FileStore(tmp_path)
    photo = store.add(png(2, 2), "photo")
    document = store.add(b"a,b", "document", file_name="x.csv")
    assert photo.file_id != document.file_id
    assert photo.file_unique_id != document.file_unique_id
    assert photo.file_path.startswith("photos/") and photo.file_path.endswith(".png")
    assert document.file_path.endswith(".csv") and document.mime_type == "text/csv"
    assert (tmp_path / document.file_unique_id).read_bytes() == b"a,b"
    assert store.get(document.file_id) is document
    assert store.by_path(photo.file_path) is photo
    assert document.content == b"a,b"


async def test_files_dir_backs_uploads(tmp_path: Path) -> None:
    sandbox = SandboxServer(files_dir=tmp_path)
    await sandbox.start()
    try:
        sandbox.user(7)
        async with ptb_bot(
            sandbox.token, base_url=sandbox.base_url, base_file_url=sandbox.file_base_url
        ) as bot:
            sent = await bot.send_document(7, b"report", filename="r.txt")
            assert sent.document is not None
            assert (tmp_path / sent.document.file_unique_id).read_bytes() == b"report"
            file = await bot.get_file(sent.document.file_id)
            assert await file.download_as_bytearray() == bytearray(b"report")
    finally:
        await sandbox.stop()


async def test_serve_forever_prints_where_to_connect(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(serve_forever(0, token="42:TESTTOKEN"))
    output = ""
    for _ in range(200):  # the server's start-up output, not the bot: poll the captured stdout
        await asyncio.sleep(0.01)
        output += capsys.readouterr().out
        if "token:" in output or task.done():
            break
    assert "42:TESTTOKEN" in output
    assert "base_url:      http://127.0.0.1:" in output
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_bad_tokens_are_refused() -> None:
    with pytest.raises(ValueError, match="not a bot token"):
        SandboxServer(token="nonsense")
