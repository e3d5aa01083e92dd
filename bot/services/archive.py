"""Export everything, back up, restore: the use cases over ``storage.archive``.

``ArchiveService`` is what the bot (``/backup``, the daily scheduled
backup) and ``crm-bot export/backup/restore`` call.  The snapshot is taken on
the event loop in one step (TinyDB) or in one read-only transaction (SQL);
decoding, the workbook and the zip are built in a worker thread.  Only admins
export everything; every export, backup and restore is audited.

File names: ``crm-bot-export-<UTC stamp>.zip`` (with ``workbook.xlsx``) and
``crm-bot-backup-<UTC stamp>.zip`` (without: a backup is for machines, and
the workbook takes longer to build than everything else together).
Retention keeps the newest ``keep`` backups of a directory and deletes only
files named like a backup.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.clock import Clock
from bot.config import Config
from bot.domain import access
from bot.domain.codec import type_hints
from bot.domain.models import Role, StaffUser
from bot.services.audit import AuditService
from bot.services.errors import AccessDenied
from storage import archive
from storage.archive import Lines, LoadResult, Manifest, Snapshot
from storage.base import SCHEMA, Store

BACKUP_PATTERN = re.compile(r"^crm-bot-backup-(\d{8}T\d{6}Z)\.zip$")
SYSTEM_ACTOR = "system"  # the audit actor of scheduled backups and CLI commands


def app_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("crm-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


def stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def field_names() -> dict[str, list[str]]:
    return {name: list(type_hints(spec.record_type)) for name, spec in SCHEMA.items()}


@dataclass
class Written:
    path: Path
    manifest: Manifest

    @property
    def records(self) -> int:
        return sum(self.manifest.counts.values())


def build(
    snapshot: Snapshot, path: Path, *, now: datetime, with_workbook: bool
) -> Written:
    """Canonical lines, the workbook if asked, the zip (blocking: run it in a worker)."""
    lines = archive.canonical(snapshot)
    book = None
    if with_workbook:
        from bot.archive_workbook import workbook

        book = workbook(lines.by_collection, field_names())
    manifest = archive.write_archive(
        path, lines, app_version=app_version(), created_at=now, workbook=book
    )
    return Written(path, manifest)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``directory``; returns what was deleted."""
    backups = sorted(p for p in directory.iterdir() if BACKUP_PATTERN.match(p.name))
    doomed = backups[:-keep] if keep > 0 else backups
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


class ArchiveService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self._running = asyncio.Lock()  # one archive at a time: each holds a copy of the data

    def check(self, actor: StaffUser) -> None:
        """Only admins take everything."""
        if not access.is_active(actor) or actor.role is not Role.ADMIN:
            raise AccessDenied("archive", needs=Role.ADMIN.value)

    async def write(self, directory: Path, kind: str, *, with_workbook: bool) -> Written:
        now = self.clock.now()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"crm-bot-{kind}-{stamp(now)}.zip"
        async with self._running:
            snapshot = await archive.take_snapshot(self.store)
            return await asyncio.to_thread(build, snapshot, path, now=now, with_workbook=with_workbook)

    async def export_all(self, actor: StaffUser, directory: Path) -> Written:
        """Everything, with the workbook (admins only; audited)."""
        self.check(actor)
        written = await self.write(directory, "export", with_workbook=True)
        await self.audit.record(actor.id, "export", "archive", "all",
                                note=f"{written.path.name}: {archive.summary(written.manifest.counts)}")
        return written

    async def backup(self, actor_id: str = SYSTEM_ACTOR, directory: Path | None = None) -> Written:
        """A backup into ``directory`` (default ``[backup] directory``), then retention (audited)."""
        target = directory or Path(self.config.backup.directory)
        written = await self.write(target, "backup", with_workbook=self.config.backup.workbook)
        removed = await asyncio.to_thread(prune, target, self.config.backup.keep)
        await self.audit.record(
            actor_id, "backup", "archive", "all",
            note=f"{written.path.name}: {archive.summary(written.manifest.counts)}"
            + (f"; removed {len(removed)} old" if removed else ""),
        )
        return written

    async def scheduled_backup(self, now: datetime) -> Written | None:
        """The daily backup: once a local day, at or after ``[backup] hour``; none when off."""
        settings = self.config.backup
        if not settings.directory:
            return None
        local = now.astimezone(self.config.tz)
        if local.hour < settings.hour:
            return None
        directory = Path(settings.directory)
        start = local.replace(hour=settings.hour, minute=0, second=0, microsecond=0)
        if directory.is_dir() and any(
            _taken_at(p.name) >= start for p in directory.iterdir() if BACKUP_PATTERN.match(p.name)
        ):
            return None
        return await self.backup(SYSTEM_ACTOR, directory)  # a failure: the scheduler logs it

    async def restore(
        self, data: archive.Archive, *, source: str, actor_id: str = SYSTEM_ACTOR, replace: bool = False
    ) -> LoadResult:
        """Write a read (verified) archive into this store; refused when it is not empty."""
        result = await archive.load(self.store, data.lines, source=source, replace=replace,
                                    records=data.records)
        await self.audit.record(
            actor_id, "restore", "archive", "all",
            note=f"{Path(source).name}: {archive.summary(data.manifest.counts)}"
            + (f"; {result.cleared}" if result.cleared else ""),
        )
        return result


def _taken_at(name: str) -> datetime:
    match = BACKUP_PATTERN.match(name)
    assert match is not None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


__all__ = ["ArchiveService", "Lines", "Written", "build", "prune"]
