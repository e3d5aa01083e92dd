"""File storage of the sandbox: uploads, file ids and downloads.

Telegram identifies a file by an opaque ``file_id`` (usable to re-send) and a
stable ``file_unique_id``; bots fetch content through ``getFile`` + a download
URL. The sandbox mirrors that so the bot's import/export code paths (CSV
import, photo attachments, report documents) run unchanged. Content is kept
in memory, or in a directory when one is given (useful for large benchmark
runs and for inspecting what the bot produced).
"""

from __future__ import annotations

import io
import mimetypes
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

FileKind = Literal["photo", "document", "voice"]


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an image Pillow recognises; (0, 0) if it is none.

    Pillow reads only the header here (``Image.open`` is lazy): the sandbox
    needs plausible PhotoSize dimensions, not pixels.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return 0, 0
    return int(width), int(height)


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
