"""Customer data on disk is readable by the bot's own user only.

Every directory the stores create is 0700 and every file 0600, whatever
the process umask (``crm-bot`` also sets ``umask 077`` at start, and the
documented systemd unit ``UMask=0077``, for what libraries create).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents created 0700; ``path`` itself made 0700 if it existed."""
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        if at.parent == at:
            break
        at = at.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            pass
    os.chmod(path, PRIVATE_DIR)  # mkdir's mode is cut by the umask; an old 0755 is tightened
    return path


def private_open(path: Path, flags: int) -> int:
    """``os.open`` of ``path``, created 0600 (and an existing file made 0600)."""
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        os.close(fd)
        raise
    return fd


def private_touch(path: Path) -> None:
    """``path`` exists and is 0600 (its content, if any, untouched)."""
    os.close(private_open(path, os.O_WRONLY | os.O_CREAT))
