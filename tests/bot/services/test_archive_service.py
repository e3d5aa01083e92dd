"""The archive use cases: the daily scheduled backup and its retention, access, auditing."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import BackupConfig, load_config
from bot.domain.models import Customer, Role, StaffUser
from bot.services import Services
from bot.services.archive import BACKUP_PATTERN, prune
from bot.services.errors import AccessDenied
from storage import TinyDBStore
from storage.archive import read_archive

START = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # midnight in Shanghai


def services_for(tmp_path: Path, clock: SimulatedClock, **backup: object) -> Services:
    base = load_config(None, environ={}, search=False)
    config = dataclasses.replace(base, backup=BackupConfig(**backup))  # type: ignore[arg-type]
    return Services(config=config, store=TinyDBStore(tmp_path / "data", fsync=False), clock=clock)


def backups(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if BACKUP_PATTERN.match(p.name))


async def test_the_daily_backup_runs_once_a_day_after_its_hour_and_keeps_the_newest(tmp_path: Path) -> None:
    clock = SimulatedClock(START)
    directory = tmp_path / "backups"
    svc = services_for(tmp_path, clock, directory=str(directory), hour=3, keep=3)
    async with svc.store:
        await svc.store.customers.insert(Customer(name="张伟", owner_id="rep-a"))
        taken = []
        for _hour in range(24 * 5):  # five days, hour by hour, as the hourly task runs
            written = await svc.archive.scheduled_backup(clock.now())
            if written is not None:
                taken.append(clock.now().astimezone(svc.config.tz))
            clock.advance(timedelta(hours=1))
        assert [t.hour for t in taken] == [3] * 5  # once a day, at the configured local hour
        assert len({t.date() for t in taken}) == 5
        kept = backups(directory)
        assert len(kept) == 3 and kept == sorted(kept)
        newest = read_archive(directory / kept[-1])
        assert newest.manifest.counts["customers"] == 1
        assert newest.manifest.checksums  # verified on reading
        events = await svc.store.audit.find({"action": "backup"})
        assert len(events) == 5 and events[0].actor_id == "system"
        assert "removed 1 old" in (events[-1].note or "")


async def test_no_directory_means_no_scheduled_backup(tmp_path: Path) -> None:
    clock = SimulatedClock(START + timedelta(hours=12))
    svc = services_for(tmp_path, clock)
    async with svc.store:
        assert await svc.archive.scheduled_backup(clock.now()) is None
    assert list(tmp_path.iterdir()) == [tmp_path / "data"]


async def test_a_backup_missed_during_downtime_is_taken_when_the_bot_is_back(tmp_path: Path) -> None:
    clock = SimulatedClock(START + timedelta(hours=12))  # 04:00 the next day, local: past the hour
    directory = tmp_path / "backups"
    svc = services_for(tmp_path, clock, directory=str(directory), hour=3)
    async with svc.store:
        assert await svc.archive.scheduled_backup(clock.now()) is not None
        assert await svc.archive.scheduled_backup(clock.now() + timedelta(hours=1)) is None


def test_retention_deletes_only_backups(tmp_path: Path) -> None:
    for day in range(1, 6):
        (tmp_path / f"crm-bot-backup-202603{day:02d}T030000Z.zip").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "crm-bot-export-20260301T030000Z.zip").write_bytes(b"x")
    removed = prune(tmp_path, 2)
    assert [p.name for p in removed] == [f"crm-bot-backup-202603{d:02d}T030000Z.zip" for d in (1, 2, 3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crm-bot-backup-20260304T030000Z.zip", "crm-bot-backup-20260305T030000Z.zip",
        "crm-bot-export-20260301T030000Z.zip", "notes.txt"]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP])
async def test_only_admins_export_everything(tmp_path: Path, role: Role) -> None:
    svc = services_for(tmp_path, SimulatedClock(START))
    async with svc.store:
        user = StaffUser(id="5", telegram_id=5, name="Li", role=role, teams=["east"])
        with pytest.raises(AccessDenied) as denied:
            await svc.archive.export_all(user, tmp_path / "out")
        assert denied.value.params["needs"] == "admin"
        assert not (tmp_path / "out").exists()
        assert await svc.store.audit.count() == 0


async def test_the_export_runs_off_the_event_loop(tmp_path: Path) -> None:
    """Thousands of records: the loop guard (tests/conftest.py) fails the test if it blocks."""
    svc = services_for(tmp_path, SimulatedClock(START))
    async with svc.store:
        for start in range(0, 3000, 500):  # insert_many encodes on the loop: small batches
            await svc.store.customers.insert_many(
                [Customer(name=f"客户{i}", owner_id="rep-a", notes="=1+1") for i in range(start, start + 500)])
        admin = StaffUser(id="1", telegram_id=1, name="Ada", role=Role.ADMIN)
        ticks = 0

        async def beat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beating = asyncio.create_task(beat())
        written = await svc.archive.export_all(admin, tmp_path / "out")
        beating.cancel()
        assert written.manifest.counts["customers"] == 3000
        assert ticks > 3
