"""Times of backup, export, restore and migrate-store on a generated data set.

    python -m bench.archive [--customers 10000] [--interactions 40000] [--postgres URL]

Prints one line per step: a backup from the committed files (what `crm-bot
backup` does while the bot runs), the in-memory snapshot (the bot's own
backup), an export with the workbook, a restore into an empty TinyDB
directory, and, with --postgres (an empty database), migrate-store into it
and back.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.datagen import DataSet
from bot.services.archive import build
from storage import TinyDBStore, archive


async def fill(directory: Path, data: DataSet) -> int:
    async with TinyDBStore(directory, fsync=False) as store:
        await store.staff.insert_many(data.staff())
        total = len(data.staff())
        for records, collection in ((data.customer_records(), store.customers),
                                    (data.interaction_records(data.customer_keys()), store.interactions)):
            batch: list = []
            for record in records:
                batch.append(record)
                if len(batch) == 500:
                    await collection.insert_many(batch)
                    total += len(batch)
                    batch = []
            await collection.insert_many(batch)
            total += len(batch)
    return total


def timed(label: str, start: float, extra: str = "") -> None:
    print(f"{label:<44} {time.perf_counter() - start:6.1f} s {extra}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=40_000)
    parser.add_argument("--postgres", help="an empty PostgreSQL database to migrate into and back")
    args = parser.parse_args()
    from datetime import UTC, datetime

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        total = await fill(tmp / "data", DataSet(customers=args.customers, interactions=args.interactions))
        print(f"{total} records ({args.customers} customers, {args.interactions} interactions)")
        start = time.perf_counter()
        snapshot = await asyncio.to_thread(archive.committed_snapshot, tmp / "data")
        written = await asyncio.to_thread(build, snapshot, tmp / "b.zip", now=datetime.now(UTC),
                                          with_workbook=False)
        timed("backup from the committed files", start, f"{written.path.stat().st_size / 1e6:.1f} MB")
        async with TinyDBStore(tmp / "data", fsync=False) as store:
            start = time.perf_counter()
            snapshot = await archive.take_snapshot(store)
            timed("  in-memory snapshot (on the event loop)", start)
            start = time.perf_counter()
            written = await asyncio.to_thread(build, snapshot, tmp / "e.zip", now=datetime.now(UTC),
                                              with_workbook=True)
            timed("export with the workbook (worker thread)", start,
                  f"{written.path.stat().st_size / 1e6:.1f} MB")
        start = time.perf_counter()
        data = await asyncio.to_thread(archive.read_archive, tmp / "b.zip")
        timed("read and verify the archive", start)
        start = time.perf_counter()
        async with TinyDBStore(tmp / "restored") as target:
            await archive.load(target, data.lines, source="bench")
        timed("restore into an empty TinyDB directory (fsync)", start)
        if args.postgres:
            from storage.sql import SQLStore

            start = time.perf_counter()
            async with SQLStore(args.postgres) as target:
                await archive.load(target, data.lines, source="bench")
            timed("migrate-store TinyDB -> PostgreSQL", start)
            start = time.perf_counter()
            async with SQLStore(args.postgres) as source:
                snapshot = await archive.take_snapshot(source)
            lines = await asyncio.to_thread(archive.canonical, snapshot)
            async with TinyDBStore(tmp / "back") as target:
                await archive.load(target, lines, source="bench")
            timed("migrate-store PostgreSQL -> TinyDB", start)
            async with SQLStore(args.postgres) as target:
                await target.drop_tables()


if __name__ == "__main__":
    asyncio.run(main())
