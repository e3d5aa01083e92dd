"""Benchmark: crm-bot's TinyDB backend against naive TinyDB and SQLite, same data, same run.

    python bench/store.py                              # 10k customers + 100k interactions, then 10x
    python bench/store.py --customers 10000 --interactions 100000 --scale 1   # base size only

What is measured, per backend, at the base size and at ``--scale`` times it:

* a durable insert of one interaction (median and p99): crm-bot ``await
  interactions.insert`` (journal + group commit + fdatasync); naive TinyDB
  ``table.insert`` on one ``JSONStorage`` file (it rewrites and fsyncs the
  file); SQLite in WAL mode with ``synchronous=FULL``, one commit per insert;
* look-ups, each returning dataclasses (SQLite rows and TinyDB documents are
  decoded with the same ``codec.from_dict``): a rep's customers, a page of 20
  by last update (what a list screen shows); all interactions of one customer;
  a customer by phone; and a rep's latest 20 interactions;
* opening the data set (crm-bot loads everything into memory; naive TinyDB's
  first read parses the whole file; SQLite reads almost nothing);
* crm-bot only: inserts from 50 concurrent tasks (group commit), and inserts
  while a compaction runs.

``--sql-url URL`` (repeatable) also loads the same data set into crm-bot's
SQL backend (``storage.sql.SQLStore``) at that SQLAlchemy URL -- PostgreSQL
or a SQLite file -- and measures the same operations through it, plus 50
concurrent writers; its tables are prefixed ``bench_`` and dropped
afterwards unless ``--keep`` is given.

Naive TinyDB gets few samples (each costs a whole-file rewrite) and is
skipped at the scaled size.  Its query cache is switched off, as writes
between reads would clear it in a running bot anyway.  Data sets are built
under ``bench/out/`` (git-ignored) and reused when ``--reuse`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinydb import Query, TinyDB

from bench.datagen import DataSet
from bot.domain.codec import from_dict, to_dict
from bot.domain.models import Customer, Interaction
from storage import Range, TinyDBStore

T = TypeVar("T")
OUT = Path(__file__).resolve().parent / "out"

TARGETS_MS = {  # at the base size; the scaled size may take twice as long
    "insert p50": 2.0,
    "insert p99": 10.0,
    "owner page": 1.0,
    "by customer": 1.0,
    "by phone": 1.0,
    "open": 2000.0,
}


@dataclass
class Figures:
    """Milliseconds per operation (or for opening), per row name."""

    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(ns: int) -> float:
    return ns / 1e6


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


# -- building the data sets ---------------------------------------------------------


SQL_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS customers (id TEXT PRIMARY KEY, owner_id TEXT, updated_at TEXT, doc TEXT);
CREATE INDEX IF NOT EXISTS customers_owner ON customers (owner_id, updated_at, id);
CREATE TABLE IF NOT EXISTS customer_phones (phone TEXT, customer_id TEXT);
CREATE INDEX IF NOT EXISTS customer_phones_phone ON customer_phones (phone);
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY, customer_id TEXT, owner_id TEXT, occurred_at TEXT, doc TEXT);
CREATE INDEX IF NOT EXISTS interactions_customer ON interactions (customer_id, occurred_at, id);
CREATE INDEX IF NOT EXISTS interactions_owner ON interactions (owner_id, occurred_at, id);
"""


def sql_connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SQL_SCHEMA)
    return db


def sql_insert_customers(db: sqlite3.Connection, docs: list[dict[str, Any]]) -> None:
    db.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?)",
        [
            (d["id"], d["owner_id"], d["updated_at"], json.dumps(d, ensure_ascii=False))
            for d in docs
        ],
    )
    db.executemany(
        "INSERT INTO customer_phones VALUES (?, ?)",
        [(p, d["id"]) for d in docs for p in d["phones"]],
    )


def sql_insert_interaction_rows(docs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            d["id"],
            d["customer_id"],
            d["owner_id"],
            d["occurred_at"],
            json.dumps(d, ensure_ascii=False),
        )
        for d in docs
    ]


def write_naive(path: Path, tables: dict[str, dict[str, Any]]) -> None:
    """The naive data set: one TinyDB ``JSONStorage`` file, as ``TinyDB(path)`` writes it."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(tables, handle)


async def build(dataset: DataSet, where: Path, *, naive: bool) -> list[tuple[str, str, list[str]]]:
    """Write the data set into all three backends; returns (id, owner, phones) per customer."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    started = time.perf_counter()
    store = TinyDBStore(where / "crm", compact_on_close=True)
    await store.open()
    sql = sql_connect(where / "sqlite.db")
    naive_tables: dict[str, dict[str, Any]] = {"customers": {}, "interactions": {}}
    await store.staff.insert_many(dataset.staff())
    keys: list[tuple[str, str, list[str]]] = []
    for chunk in batched(dataset.customer_records(), 5000):
        await store.customers.insert_many(chunk)
        docs = [to_dict(c) for c in chunk]
        sql.execute("BEGIN")
        sql_insert_customers(sql, docs)
        sql.execute("COMMIT")
        keys.extend((c.id, c.owner_id, c.phones) for c in chunk)
        if naive:
            table = naive_tables["customers"]
            table.update((str(len(table) + k + 1), d) for k, d in enumerate(docs))
    log(f"customers written ({time.perf_counter() - started:.0f} s)")
    done = 0
    for chunk in batched(dataset.interaction_records(keys), 10_000):
        await store.interactions.insert_many(chunk)
        docs = [to_dict(i) for i in chunk]
        sql.execute("BEGIN")
        sql.executemany(
            "INSERT INTO interactions VALUES (?, ?, ?, ?, ?)", sql_insert_interaction_rows(docs)
        )
        sql.execute("COMMIT")
        if naive:
            table = naive_tables["interactions"]
            table.update((str(len(table) + k + 1), d) for k, d in enumerate(docs))
        done += len(chunk)
        if done % 200_000 == 0:
            log(f"{done:,} interactions written ({time.perf_counter() - started:.0f} s)")
    sql.close()
    log(f"compacting the crm-bot journal into snapshots ({time.perf_counter() - started:.0f} s)")
    await store.close()
    if naive:
        write_naive(where / "naive.json", naive_tables)
    log(f"built in {time.perf_counter() - started:.0f} s")
    (where / "keys.json").write_text(json.dumps(keys))
    return keys


# -- measuring ----------------------------------------------------------------------------


async def time_async(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    samples = []
    for call in calls:
        begin = time.perf_counter_ns()
        await call()
        samples.append(ms(time.perf_counter_ns() - begin))
    return samples


def time_sync(calls: list[Callable[[], Any]]) -> list[float]:
    samples = []
    for call in calls:
        begin = time.perf_counter_ns()
        call()
        samples.append(ms(time.perf_counter_ns() - begin))
    return samples


@dataclass
class Probes:
    """The same random arguments for every backend."""

    reps: list[str]
    customers: list[str]
    phones: list[str]
    new: list[Interaction]


def probes(
    dataset: DataSet, keys: list[tuple[str, str, list[str]]], n: int, inserts: int
) -> Probes:
    rnd = random.Random(7)
    picked = [keys[rnd.randrange(len(keys))] for _ in range(n)]
    fresh = random.Random(time.time_ns())  # new ids each run, so a kept data set can be reused
    return Probes(
        reps=[rnd.choice(dataset.rep_ids()) for _ in range(n)],
        customers=[k[0] for k in picked],
        phones=[rnd.choice(k[2]) for k in picked],
        new=[dataset.new_interaction(fresh, keys) for _ in range(inserts)],
    )


async def measure_crm(where: Path, p: Probes) -> tuple[Figures, dict[str, str]]:
    figures = Figures()
    extra: dict[str, str] = {}
    gc.collect()
    store = TinyDBStore(where / "crm")
    begin = time.perf_counter_ns()
    await store.open()
    figures.values["open"] = ms(time.perf_counter_ns() - begin)
    try:
        c, i = store.customers, store.interactions
        figures.values["owner page"] = statistics.median(await time_async(
            [lambda r=r: c.find({"owner_id": r}, order_by="updated_at", descending=True, limit=20) for r in p.reps]
        ))  # fmt: skip
        figures.values["by customer"] = statistics.median(await time_async(
            [lambda x=x: i.find({"customer_id": x}, order_by="occurred_at") for x in p.customers]
        ))  # fmt: skip
        figures.values["by phone"] = statistics.median(await time_async(
            [lambda x=x: c.find({"phones": x}) for x in p.phones]
        ))  # fmt: skip
        figures.values["rep's interactions page"] = statistics.median(await time_async(
            [lambda r=r: i.find({"owner_id": r, "deleted": False}, order_by="occurred_at", descending=True, limit=20) for r in p.reps]
        ))  # fmt: skip
        figures.values["count, owner + range"] = statistics.median(await time_async(
            [lambda r=r: i.count({"owner_id": r}, within=Range("occurred_at", p.new[0].occurred_at.replace(year=2025))) for r in p.reps[:200]]
        ))  # fmt: skip
        half = len(p.new) // 3
        sequential = p.new[:half]
        inserts = await time_async([lambda x=x: i.insert(x) for x in sequential])
        figures.values["insert p50"] = statistics.median(inserts)
        figures.values["insert p99"] = pct(inserts, 0.99)

        # 50 concurrent writers: group commit turns their fsyncs into a few
        concurrent = p.new[half : 2 * half]
        latencies: list[float] = []

        async def writer(items: list[Interaction]) -> None:
            for item in items:
                begin = time.perf_counter_ns()
                await i.insert(item)
                latencies.append(ms(time.perf_counter_ns() - begin))

        begin = time.perf_counter_ns()
        await asyncio.gather(*(writer(concurrent[k::50]) for k in range(50)))
        seconds = (time.perf_counter_ns() - begin) / 1e9
        extra["50 concurrent writers"] = (
            f"{len(concurrent) / seconds:,.0f} inserts/s, latency p50 {statistics.median(latencies):.2f} ms,"
            f" p99 {pct(latencies, 0.99):.2f} ms"
        )

        # inserts while a compaction (in its own process) folds the journal into snapshots
        during: list[float] = []
        compaction = asyncio.create_task(store.compact())
        begin = time.perf_counter_ns()
        for item in p.new[2 * half :]:
            if compaction.done():
                break
            t0 = time.perf_counter_ns()
            await i.insert(item)
            during.append(ms(time.perf_counter_ns() - t0))
            await asyncio.sleep(0.002)
        await compaction
        took = (time.perf_counter_ns() - begin) / 1e9
        if during:
            extra["insert during compaction"] = (
                f"{len(during)} inserts while it ran ({took:.1f} s): p50 {statistics.median(during):.2f} ms,"
                f" p99 {pct(during, 0.99):.2f} ms, max {max(during):.2f} ms"
            )
    finally:
        await store.close()
    return figures, extra


def measure_sqlite(where: Path, p: Probes) -> Figures:
    figures = Figures()
    begin = time.perf_counter_ns()
    db = sqlite3.connect(where / "sqlite.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("SELECT id FROM customers LIMIT 1").fetchall()
    figures.values["open"] = ms(time.perf_counter_ns() - begin)

    def rows(sql: str, *args: Any) -> list[str]:
        return [r[0] for r in db.execute(sql, args)]

    def owner_page(rep: str) -> list[Customer]:
        sql = "SELECT doc FROM customers WHERE owner_id = ? ORDER BY updated_at DESC, id DESC LIMIT 20"
        return [from_dict(Customer, json.loads(d)) for d in rows(sql, rep)]

    def by_customer(cid: str) -> list[Interaction]:
        sql = "SELECT doc FROM interactions WHERE customer_id = ? ORDER BY occurred_at, id"
        return [from_dict(Interaction, json.loads(d)) for d in rows(sql, cid)]

    def by_phone(phone: str) -> list[Customer]:
        sql = (
            "SELECT c.doc FROM customer_phones p JOIN customers c ON c.id = p.customer_id"
            " WHERE p.phone = ? ORDER BY c.id"
        )
        return [from_dict(Customer, json.loads(d)) for d in rows(sql, phone)]

    def rep_page(rep: str) -> list[Interaction]:
        sql = "SELECT doc FROM interactions WHERE owner_id = ? ORDER BY occurred_at DESC, id DESC LIMIT 20"
        return [from_dict(Interaction, json.loads(d)) for d in rows(sql, rep)]

    figures.values["owner page"] = statistics.median(
        time_sync([lambda r=r: owner_page(r) for r in p.reps])
    )
    figures.values["by customer"] = statistics.median(
        time_sync([lambda x=x: by_customer(x) for x in p.customers])
    )
    figures.values["by phone"] = statistics.median(
        time_sync([lambda x=x: by_phone(x) for x in p.phones])
    )
    figures.values["rep's interactions page"] = statistics.median(
        time_sync([lambda r=r: rep_page(r) for r in p.reps])
    )

    def insert(item: Interaction) -> None:
        (row,) = sql_insert_interaction_rows([to_dict(item)])
        db.execute("INSERT INTO interactions VALUES (?, ?, ?, ?, ?)", row)  # autocommit: one commit

    inserts = time_sync([lambda x=x: insert(x) for x in p.new[: len(p.new) // 3]])
    figures.values["insert p50"] = statistics.median(inserts)
    figures.values["insert p99"] = pct(inserts, 0.99)
    db.close()
    return figures


def measure_naive(where: Path, p: Probes, samples: int) -> Figures:
    figures = Figures()
    begin = time.perf_counter_ns()
    db = TinyDB(where / "naive.json")
    customers = db.table("customers", cache_size=0)
    interactions = db.table("interactions", cache_size=0)
    len(customers)  # TinyDB reads (and parses) the whole file here
    figures.values["open"] = ms(time.perf_counter_ns() - begin)
    q = Query()

    def owner_page(rep: str) -> list[Customer]:
        found = sorted(
            customers.search(q.owner_id == rep),
            key=lambda d: (d["updated_at"], d["id"]),
            reverse=True,
        )
        return [from_dict(Customer, d) for d in found[:20]]

    def by_customer(cid: str) -> list[Interaction]:
        found = sorted(
            interactions.search(q.customer_id == cid), key=lambda d: (d["occurred_at"], d["id"])
        )
        return [from_dict(Interaction, d) for d in found]

    def by_phone(phone: str) -> list[Customer]:
        return [from_dict(Customer, d) for d in customers.search(q.phones.any([phone]))]

    n = max(3, samples // 4)
    figures.values["owner page"] = statistics.median(
        time_sync([lambda r=r: owner_page(r) for r in p.reps[:n]])
    )
    figures.values["by customer"] = statistics.median(
        time_sync([lambda x=x: by_customer(x) for x in p.customers[:n]])
    )
    figures.values["by phone"] = statistics.median(
        time_sync([lambda x=x: by_phone(x) for x in p.phones[:n]])
    )
    inserts = time_sync([lambda x=x: interactions.insert(to_dict(x)) for x in p.new[:samples]])
    figures.values["insert p50"] = statistics.median(inserts)
    figures.values["insert p99"] = max(inserts)  # too few samples for a real p99: the worst
    figures.notes["insert p99"] = f"max of {samples}"
    db.close()
    return figures


async def measure_sqlstore(
    url: str, dataset: DataSet, keys: list[tuple[str, str, list[str]]], p: Probes, keep: bool
) -> tuple[Figures, dict[str, str]]:
    """crm-bot's SQL backend at ``url``: load the data set, then the same operations as crm-bot."""
    from storage.sql import SQLStore

    figures = Figures()
    extra: dict[str, str] = {}
    async with SQLStore(url, prefix="bench_") as store:
        await store.drop_tables()  # whatever an interrupted run left
    started = time.perf_counter()
    async with SQLStore(url, prefix="bench_") as store:
        await store.staff.insert_many(dataset.staff())
        for chunk in batched(dataset.customer_records(), 5000):
            await store.customers.insert_many(chunk)
        for chunk in batched(dataset.interaction_records(keys), 10_000):
            await store.interactions.insert_many(chunk)
        await store.analyze()  # what autovacuum would have done by now (if the server runs it)
    extra["loading"] = f"{time.perf_counter() - started:.0f} s (insert_many, chunks of 5-10k)"
    os.sync()
    gc.collect()
    store = SQLStore(url, prefix="bench_")
    begin = time.perf_counter_ns()
    await store.open()
    await store.customers.get("warm-up")  # the first connection
    figures.values["open"] = ms(time.perf_counter_ns() - begin)
    try:
        c, i = store.customers, store.interactions
        figures.values["owner page"] = statistics.median(await time_async(
            [lambda r=r: c.find({"owner_id": r}, order_by="updated_at", descending=True, limit=20) for r in p.reps]
        ))  # fmt: skip
        figures.values["by customer"] = statistics.median(await time_async(
            [lambda x=x: i.find({"customer_id": x}, order_by="occurred_at") for x in p.customers]
        ))  # fmt: skip
        figures.values["by phone"] = statistics.median(await time_async(
            [lambda x=x: c.find({"phones": x}) for x in p.phones]
        ))  # fmt: skip
        figures.values["rep's interactions page"] = statistics.median(await time_async(
            [lambda r=r: i.find({"owner_id": r, "deleted": False}, order_by="occurred_at", descending=True, limit=20) for r in p.reps]
        ))  # fmt: skip
        figures.values["count, owner + range"] = statistics.median(await time_async(
            [lambda r=r: i.count({"owner_id": r}, within=Range("occurred_at", p.new[0].occurred_at.replace(year=2025))) for r in p.reps[:200]]
        ))  # fmt: skip
        half = len(p.new) // 3
        inserts = await time_async([lambda x=x: i.insert(x) for x in p.new[:half]])
        figures.values["insert p50"] = statistics.median(inserts)
        figures.values["insert p99"] = pct(inserts, 0.99)
        concurrent = p.new[half : 2 * half]
        latencies: list[float] = []

        async def writer(items: list[Interaction]) -> None:
            for item in items:
                begin = time.perf_counter_ns()
                await i.insert(item)
                latencies.append(ms(time.perf_counter_ns() - begin))

        begin = time.perf_counter_ns()
        await asyncio.gather(*(writer(concurrent[k::50]) for k in range(50)))
        seconds = (time.perf_counter_ns() - begin) / 1e9
        extra["50 concurrent writers"] = (
            f"{len(concurrent) / seconds:,.0f} inserts/s, latency p50 {statistics.median(latencies):.2f} ms,"
            f" p99 {pct(latencies, 0.99):.2f} ms"
        )
        if not keep:
            await store.drop_tables()
    finally:
        await store.close()
    return figures, extra


def sql_table(crm: Figures, sql: Figures, stores: list[tuple[str, Figures]]) -> str:
    """crm-bot's SQL backend beside its TinyDB backend and raw SQLite."""
    head = f"| {'operation':<34} | {'crm-bot TinyDB':>14} | " + " | ".join(
        f"{label:>22}" for label, _ in stores
    ) + f" | {'raw SQLite WAL':>14} |"  # fmt: skip
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for key, label in ROWS:
        cells = " | ".join(f"{fmt(figures.values.get(key)):>22}" for _, figures in stores)
        lines.append(
            f"| {label:<34} | {fmt(crm.values.get(key)):>14} | {cells} | {fmt(sql.values.get(key)):>14} |"
        )
    return "\n".join(lines)


# -- reporting ------------------------------------------------------------------------------

ROWS = [
    ("insert p50", "durable insert, median"),
    ("insert p99", "durable insert, p99"),
    ("owner page", "rep's customers, page of 20"),
    ("by customer", "one customer's interactions"),
    ("by phone", "customer by phone"),
    ("rep's interactions page", "rep's latest 20 interactions"),
    ("count, owner + range", "count: rep's interactions in 2025"),
    ("open", "open the data set"),
]


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms"


def ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x"


def table(
    title: str, crm: Figures, naive: Figures | None, sql: Figures, allowance: float
) -> tuple[str, bool]:
    lines = [title, ""]
    head = f"| {'operation':<34} | {'crm-bot TinyDB':>14} | {'naive TinyDB':>13} | {'SQLite WAL':>11} | {'target':>8} | {'':4} | {'naive/crm':>9} | {'crm/SQLite':>10} |"
    lines += [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    ok = True
    for key, label in ROWS:
        value = crm.values.get(key)
        if value is None:
            continue
        naive_value = naive.values.get(key) if naive else None
        sql_value = sql.values.get(key)
        target = TARGETS_MS.get(key)
        target_text, verdict = "", ""
        if target is not None:
            limit = target * allowance if key != "open" else target
            target_text = f"≤ {fmt(limit)}" if key != "open" or allowance == 1 else "(none)"
            if key != "open" or allowance == 1:
                verdict = "PASS" if value <= limit else "MISS"
                ok &= verdict == "PASS"
        vs_naive = ratio(naive_value / value) if naive_value else "—"
        vs_sql = ratio(value / sql_value) if sql_value else "—"
        naive_text = fmt(naive_value) + (
            f" ({naive.notes[key]})" if naive and key in naive.notes else ""
        )
        lines.append(
            f"| {label:<34} | {fmt(value):>14} | {naive_text:>13} | {fmt(sql_value):>11} | {target_text:>8} | {verdict:4} | {vs_naive:>9} | {vs_sql:>10} |"
        )
    return "\n".join(lines), ok


async def run(args: argparse.Namespace) -> int:
    sizes = [(args.customers, args.interactions)]
    if args.scale > 1:
        sizes.append((args.customers * args.scale, args.interactions * args.scale))
    print(f"# crm-bot store benchmark  ({platform.platform()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores)")  # fmt: skip
    print(f"command: python bench/store.py --customers {args.customers} --interactions {args.interactions} "
          f"--scale {args.scale} --samples {args.samples}"
          + "".join(f" --sql-url {u}" for u in args.sql_url) + "\n")  # fmt: skip
    results: list[tuple[int, Figures]] = []
    all_ok = True
    for n, (customers, interactions) in enumerate(sizes):
        dataset = DataSet(customers=customers, interactions=interactions, seed=args.seed)
        where = OUT / f"store-{customers}-{interactions}"
        with_naive = n == 0 and not args.no_naive
        log(f"building {customers:,} customers + {interactions:,} interactions in {where}")
        if (
            args.reuse
            and (where / "keys.json").exists()
            and (not with_naive or (where / "naive.json").exists())
        ):
            keys = [tuple(k) for k in json.loads((where / "keys.json").read_text())]
        else:
            keys = await build(dataset, where, naive=with_naive)
        p = probes(dataset, keys, args.lookups, 3 * args.samples)  # type: ignore[arg-type]
        log("flushing the page cache's dirty pages, so that building does not slow measuring")
        os.sync()
        await asyncio.sleep(5)
        log("measuring crm-bot")
        crm, extra = await measure_crm(where, p)
        log("measuring SQLite")
        sql = measure_sqlite(where, p)
        naive = None
        if with_naive:
            log("measuring naive TinyDB")
            naive = measure_naive(where, p, args.naive_samples)
        sql_stores: list[tuple[str, Figures, dict[str, str]]] = []
        for url in args.sql_url:
            label = f"SQLStore {url.split(':', 1)[0].split('+')[0]}"
            log(f"loading and measuring crm-bot's SQL backend ({label})")
            figures, sql_extra = await measure_sqlstore(url, dataset, keys, p, args.keep)
            sql_stores.append((label, figures, sql_extra))
        allowance = 1.0 if n == 0 else 2.0
        title = (f"## {customers:,} customers + {interactions:,} interactions"
                 + ("" if n == 0 else f" ({args.scale}x; targets {allowance:.0f}x the base ones)"))  # fmt: skip
        text, ok = table(title, crm, naive, sql, allowance)
        all_ok &= ok
        print(text)
        if n > 0:
            print(
                "naive TinyDB: skipped at this size (one insert rewrites the whole file: ~10x the base figure)"
            )
        for name, value in extra.items():
            print(f"crm-bot, {name}: {value}")
        print()
        if sql_stores:
            print("### crm-bot's SQL backend, same data\n")
            print(sql_table(crm, sql, [(label, figures) for label, figures, _ in sql_stores]))
            for label, _, sql_extra in sql_stores:
                for name, value in sql_extra.items():
                    print(f"{label}, {name}: {value}")
            print()
        results.append((n, crm))
        if not args.keep:
            shutil.rmtree(where, ignore_errors=True)
    if len(results) == 2:
        base, big = results[0][1], results[1][1]
        print(
            f"## crm-bot: {args.scale}x the data vs the base size (flat cost means ~1x; the target allows 2x)\n"
        )
        for key, label in ROWS:
            if key == "open" or base.values.get(key) is None or big.values.get(key) is None:
                continue
            ratio = big.values[key] / base.values[key]  # type: ignore[operator]
            print(f"- {label}: {fmt(base.values[key])} -> {fmt(big.values[key])} ({ratio:.2f}x)")
        print(f"- open the data set: {fmt(base.values['open'])} -> {fmt(big.values['open'])}"
              f" ({big.values['open'] / base.values['open']:.1f}x: loading is linear in the data)")  # type: ignore[operator]  # fmt: skip
    print("\nverdict:", "every target met" if all_ok else "some targets missed (MISS above)")
    return 0 if all_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument(
        "--scale", type=int, default=10, help="also run at this multiple (1 = base size only)"
    )
    parser.add_argument(
        "--samples", type=int, default=2000, help="timed inserts per phase (crm-bot, SQLite)"
    )
    parser.add_argument(
        "--naive-samples", type=int, default=20, help="timed inserts for naive TinyDB"
    )
    parser.add_argument("--lookups", type=int, default=1000, help="timed look-ups of each kind")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--no-naive", action="store_true", help="skip naive TinyDB altogether")
    parser.add_argument("--reuse", action="store_true", help="reuse data sets left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the data sets under bench/out/")
    parser.add_argument(
        "--sql-url",
        action="append",
        default=[],
        metavar="URL",
        help="also load and measure crm-bot's SQL backend at this SQLAlchemy URL (repeatable)",
    )
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
