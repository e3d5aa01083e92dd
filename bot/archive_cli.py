"""``crm-bot export / backup / restore / migrate-store``: the archive use cases from a shell.

Each reads its configuration's store the way that is safe while the bot
runs (``storage.archive``):

* TinyDB: the committed files are read without the store's lock (the bot
  holds it); nothing in the data directory is written.  When no bot holds
  the directory, the store is opened afterwards just to record the audit
  event; while a bot holds it, the command says that this export is not in
  the bot's audit trail (``/backup`` and the scheduled backups are).
* SQL: the store is opened as one more client, the snapshot is one
  read-only transaction, and the audit event is written.

``restore`` and ``migrate-store`` write a store, so they need it to
themselves: a TinyDB directory a bot holds is refused ("stop the bot
first"); for SQL, stop the bots before restoring (nothing stops them from
writing meanwhile).  Both refuse a non-empty target unless ``--force``, and
resume an interrupted run (``storage.archive.load``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.clock import SystemClock
from bot.config import Config
from bot.services.archive import ArchiveService, Written, build, prune, stamp
from bot.services.audit import AuditService
from storage import Store, StoreLockedError, TinyDBStore, archive, open_store
from storage.archive import Snapshot
from storage.base import StoreError


def _say(text: str, out: TextIO | None = None) -> None:
    print(text, file=out or sys.stdout)


def target_store(url: str) -> Store:
    """A store named on the command line: a database URL, or ``tinydb:PATH`` / a directory."""
    if "://" in url:
        return open_store("sql", url=url)
    return TinyDBStore(url.removeprefix("tinydb:"))


async def source_snapshot(config: Config) -> tuple[Snapshot, bool]:
    """The configured store's consistent snapshot, and whether a bot holds a TinyDB directory."""
    storage = config.storage
    if storage.backend == "tinydb":
        directory = Path(storage.path)
        if not directory.is_dir():
            raise StoreError(f"no data directory at {directory} ([storage] path)")
        snapshot = await asyncio.to_thread(archive.committed_snapshot, directory)
        return snapshot, _locked(directory)
    store = open_store("sql", url=storage.url)
    async with store:
        return await archive.take_snapshot(store), False


def _locked(directory: Path) -> bool:
    from filelock import FileLock, Timeout

    from storage.tinydb_store.files import LOCK

    lock = FileLock(str(directory / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


async def _audit(config: Config, action: str, note: str, held: bool) -> None:
    if held:
        _say(f"crm-bot: note: a running bot holds {config.storage.path}; this {action} is not in its "
             "audit trail (the bot's /backup and scheduled backups are)", sys.stderr)
        return
    store = open_store(config.storage.backend, path=config.storage.path, url=config.storage.url)
    async with store:
        await AuditService(store, SystemClock()).record("cli", action, "archive", "all", note=note)


async def export(config: Config, out: str | None, *, kind: str = "export", directory: str | None = None) -> Written:
    """``crm-bot export`` (with the workbook) or ``crm-bot backup`` (without; retention)."""
    now = datetime.now(UTC)
    if out:
        path = Path(out)
    else:
        folder = Path(directory or config.backup.directory or ".")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"crm-bot-{kind}-{stamp(now)}.zip"
    snapshot, held = await source_snapshot(config)
    with_workbook = kind == "export" or config.backup.workbook
    written = await asyncio.to_thread(build, snapshot, path, now=now, with_workbook=with_workbook)
    removed = await asyncio.to_thread(prune, path.parent, config.backup.keep) if kind == "backup" else []
    note = f"{path.name}: {archive.summary(written.manifest.counts)}"
    await _audit(config, kind, note, held)
    _say(f"{path}: {written.records} records ({archive.summary(written.manifest.counts)}); "
         f"snapshot at {written.manifest.position}"
         + (f"; removed {len(removed)} old backup(s)" if removed else ""))
    return written


async def restore(config: Config, path: str, *, force: bool = False) -> archive.LoadResult:
    data = await asyncio.to_thread(archive.read_archive, path)  # verified before anything is written
    store = open_store(config.storage.backend, path=config.storage.path, url=config.storage.url)
    try:
        await store.open()
    except StoreLockedError as exc:
        raise StoreError(f"{exc}; stop the bot before restoring") from None
    try:
        service = ArchiveService(store, SystemClock(), config, AuditService(store, SystemClock()))
        result = await service.restore(data, source=str(path), actor_id="cli", replace=force)
    finally:
        await store.close()
    _report(f"restored {path}", result)
    return result


async def migrate(
    from_config: Config,
    to_url: str,
    *,
    force: bool = False,
    batch: int = archive.BATCH,
    on_batch: Callable[[str, int], None] | None = None,
) -> archive.LoadResult:
    """Copy the configured store into ``to_url``, verified; resumes an interrupted run."""
    snapshot, held = await source_snapshot(from_config)
    if held:
        _say(f"crm-bot: warning: a running bot holds {from_config.storage.path}: what it writes "
             "after this snapshot is not copied; stop it for a move", sys.stderr)
    lines = await asyncio.to_thread(archive.canonical, snapshot)
    target = target_store(to_url)
    source = from_config.storage.path if from_config.storage.backend == "tinydb" else "sql"
    try:
        await target.open()
    except StoreLockedError as exc:
        raise StoreError(f"{exc}; stop the bot that uses the target") from None
    try:
        result = await archive.load(target, lines, source=source, replace=force, batch=batch,
                                    on_batch=on_batch)
    finally:
        await target.close()
    _report(f"copied into {target!r}", result)
    return result


def _report(what: str, result: archive.LoadResult) -> None:
    total = sum(result.copied.values())
    resumed = sum(result.skipped.values())
    line = f"{what}: {total} records ({archive.summary(result.copied)}); verified (counts, SHA-256)"
    if resumed:
        line += f"; resumed: {resumed} were already there"
    if result.cleared:
        line += f"; {result.cleared}"
    _say(line)
