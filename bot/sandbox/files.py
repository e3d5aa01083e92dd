"""File storage of the sandbox: uploads, file ids and downloads.

Telegram identifies a file by an opaque ``file_id`` (usable to re-send) and a
stable ``file_unique_id``; bots fetch content through ``getFile`` + a download
URL. The sandbox mirrors that so the bot's import/export code paths (CSV
import, photo attachments, report documents) run unchanged. Content is kept
in memory, or in a directory when one is given (useful for large benchmark
runs and for inspecting what the bot produced).
"""

from __future__ import annotations

import mimetypes
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

FileKind = Literal["photo", "document", "voice"]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG, JPEG, GIF or WebP header; (0, 0) if unknown.

    Only headers are read: the sandbox needs plausible PhotoSize dimensions,
    not a decoder.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    return 0, 0


def _jpeg_size(data: bytes) -> tuple[int, int]:
    index = 2
    size = len(data)
    while index + 4 <= size:
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        is_sof = 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)
        if is_sof and index + 9 <= size:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return 0, 0


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return 0, 0


def image_extension(data: bytes) -> str:
    """File extension matching the image format (``.jpg`` when unknown, like Telegram)."""
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".jpg"


@dataclass(eq=False)
class StoredFile:
    """One stored file and its Bot API metadata."""

    file_id: str
    file_unique_id: str
    kind: FileKind
    file_path: str
    file_size: int
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0
    _store: FileStore | None = field(default=None, repr=False)

    @property
    def content(self) -> bytes:
        """The stored bytes."""
        assert self._store is not None
        return self._store.read(self)

    def photo_sizes(self) -> list[dict[str, Any]]:
        """The Bot API ``photo`` array (one size: the original)."""
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": self.file_size,
            }
        ]

    def document_dict(self) -> dict[str, Any]:
        """The Bot API ``Document`` object."""
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
        }
        if self.file_name is not None:
            doc["file_name"] = self.file_name
        if self.mime_type is not None:
            doc["mime_type"] = self.mime_type
        return doc

    def file_dict(self) -> dict[str, Any]:
        """The Bot API ``File`` object returned by getFile."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }

    def info(self) -> dict[str, Any]:
        """JSON summary for the control API."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "kind": self.kind,
            "file_path": self.file_path,
            "file_size": self.file_size,
        }
        if self.kind == "photo":
            data.update(width=self.width, height=self.height)
        else:
            data.update(file_name=self.file_name, mime_type=self.mime_type)
        return data


class FileStore:
    """Keeps uploaded/sent files, in memory or under ``directory``."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._blobs: dict[str, bytes] = {}
        self._counter = 0

    def add(
        self,
        content: bytes,
        kind: FileKind,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store ``content`` and return its metadata with fresh ids."""
        self._counter += 1
        unique = f"AQAD{self._counter:04d}{secrets.token_hex(4)}"
        file_id = f"{'AgAC' if kind == 'photo' else 'BQAC'}{unique}{secrets.token_urlsafe(12)}"
        width = height = 0
        if kind == "photo":
            width, height = image_size(content)
            ext = image_extension(content)
            path = f"photos/file_{self._counter}{ext}"
            mime_type = None
            file_name = None
        else:
            suffix = Path(file_name).suffix if file_name else ""
            path = f"documents/file_{self._counter}{suffix}"
            if mime_type is None and file_name:
                mime_type = mimetypes.guess_type(file_name)[0]
            mime_type = mime_type or "application/octet-stream"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            kind=kind,
            file_path=path,
            file_size=len(content),
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
            _store=self,
        )
        if self.directory is not None:
            (self.directory / unique).write_bytes(content)
        else:
            self._blobs[unique] = bytes(content)
        self._by_id[file_id] = stored
        self._by_path[path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """Look up by ``file_id``."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """Look up by ``file_path`` (download URLs)."""
        return self._by_path.get(file_path)

    def read(self, stored: StoredFile) -> bytes:
        """The content of ``stored``."""
        if self.directory is not None:
            return (self.directory / stored.file_unique_id).read_bytes()
        return self._blobs[stored.file_unique_id]
