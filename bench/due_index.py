"""What migration 0002's index (reminders: status, due_at, id) does to the delivery worker's poll.

    python bench/due_index.py                                   # SQLite in a temporary directory
    python bench/due_index.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test

Fills 100 000 reminders (1 000 pending, the rest sent), times
``ReminderService.due``'s query (pending, due by now, by due time, 200 at a
time; best of 20) at the head revision, then migrates down to 0001 and times
it again.  On PostgreSQL the tables get a prefix of their own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine

from bot.domain.models import Reminder, ReminderKind, ReminderStatus
from storage import Range
from storage.sql import SQLStore, migrations
from storage.sql.schema import build_tables

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alembic(url: str, prefix: str, action: str, target: str) -> None:
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            getattr(command, action)(migrations.alembic_config(conn, prefix), target)
    finally:
        engine.dispose()


def drop(url: str, prefix: str) -> None:
    engine = create_engine(url)
    try:
        build_tables(prefix).metadata.drop_all(engine)
        migrations.version_table(prefix).drop(engine, checkfirst=True)
    finally:
        engine.dispose()


async def best_poll_ms(store: SQLStore, now: datetime) -> float:
    best = float("inf")
    for _ in range(20):
        start = time.perf_counter()
        found = await store.reminders.find(
            {"status": ReminderStatus.PENDING.value}, within=Range("due_at", None, now),
            order_by="due_at", limit=200,
        )
        best = min(best, time.perf_counter() - start)
    assert len(found) == 200
    return best * 1000


async def run(url: str, prefix: str, total: int, pending: int) -> None:
    store = SQLStore(url, prefix=prefix)
    await store.open()
    batch: list[Reminder] = []
    for i in range(total):
        status = ReminderStatus.PENDING if i % (total // pending) == 0 else ReminderStatus.SENT
        batch.append(Reminder(
            id=f"r{i:06d}", kind=ReminderKind.FOLLOW_UP, recipient_id=f"u{i % 50}",
            due_at=T0 + timedelta(minutes=i), dedupe_key=f"k{i}", status=status,
        ))
        if len(batch) == 5000:
            await store.reminders.insert_many(batch)
            batch = []
    await store.reminders.insert_many(batch)
    await store.analyze()
    now = T0 + timedelta(minutes=total)
    with_index = await best_poll_ms(store, now)
    await store.close()
    await asyncio.to_thread(alembic, url, prefix, "downgrade", migrations.FIRST)
    await asyncio.to_thread(alembic, url, prefix, "stamp", migrations.HEAD)  # to open it, no index
    store = SQLStore(url, prefix=prefix)
    await store.open()
    await store.analyze()
    without = await best_poll_ms(store, now)
    await store.close()
    print(f"{store.dialect}: {total} reminders, {pending} pending; due(limit=200), best of 20: "
          f"0001 {without:.2f} ms, 0002 {with_index:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database (default: SQLite in a temporary directory)")
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{os.path.join(tmp, 'bench.sqlite3')}"
        prefix = f"bench{secrets.token_hex(3)}_" if args.url else ""
        try:
            asyncio.run(run(url, prefix, args.total, args.pending))
        finally:
            if args.url:
                drop(url, prefix)


if __name__ == "__main__":
    main()
