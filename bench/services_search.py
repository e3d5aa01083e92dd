"""Benchmark: customer search and the duplicate check through the service layer (issue 15.3).

    python bench/services_search.py                 # M (10 000 customers) and L (100 000)
    python bench/services_search.py --sizes 10000   # M only
    python bench/services_search.py --reuse         # keep the data sets under bench/out/

For each size a TinyDB store (``bench/datagen.py``'s customers and its 50
staff; interactions do not take part in a search) is opened as the bot opens
it, ``Services`` are built on it and the search index is started as
``bot/app.py`` startup starts it.  Then, through ``CustomerService.search``
and ``CustomerService.duplicates`` with the real store:

* **index build**: from ``start()`` until the index is ready (the worker
  builds it while the loop serves others); a query issued right at start
  waits for that, so it is shown too (``query at start``);
* **first call** after the build, then p50/p95 over a mix of queries a rep
  types (a whole Chinese name, its pinyin and initials, a surname, 4 digits
  from the middle or the end of a phone, a company, a city, a tag, an English
  name, single-word and two-word typos), as an **admin** and as a **rep**;
* **duplicate check**: an admin and a rep saving a new customer of a common
  company with a new phone (``duplicates`` as the Save button calls it);
* **worst loop block**: a heartbeat task beats every 5 ms during each phase;
  its worst lateness is how long the loop was kept from other users — as
  loop-thread CPU (what the test watchdog counts) and as wall-clock time
  (which also counts other processes on a loaded machine, and waits for the
  GIL while the index's worker thread runs).

The baseline is the approach before the index, measured in the same run on
the same store: decode every visible customer (``all_visible``), build a
``SearchIndex`` over their cached documents, rank — with that code as it was
at commit ``BASELINE_COMMIT`` (read with ``git show``); the old duplicate
check decoded every visible customer and built a search document for each.
Baseline figures use fewer samples (each one costs seconds at L).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from types import ModuleType
from typing import Any, Self, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.datagen import NOW, DataSet, chinese_name, phone
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain import card
from bot.domain.duplicates import find_duplicates
from bot.domain.models import Customer, Role, StaffUser
from bot.domain.search import pinyin_variants
from bot.services import Services
from storage import TinyDBStore

T = TypeVar("T")
OUT = ROOT / "bench" / "out"
BASELINE_COMMIT = "46ea004"
TARGETS_MS = {"admin p95": {10_000: 50.0, 100_000: 150.0}, "rep p95": 20.0, "duplicates": 100.0}
ADMIN = StaffUser(id="bench-admin", telegram_id=1, name="Admin", role=Role.ADMIN, created_at=NOW,
                  updated_at=NOW)


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Heartbeat:
    """Beats every 5 ms on the loop; how late a beat comes is how long the loop was kept busy.

    ``worst`` is the wall-clock lateness; ``worst_cpu`` counts only the loop
    thread's own CPU time during the gap, ``min(lateness, thread CPU)``, as
    the test suite's watchdog does, so that other processes on a loaded
    machine do not count (a wait for the GIL held by a worker thread counts
    in ``worst`` only).
    """

    def __init__(self) -> None:
        self.worst = self.worst_cpu = 0.0
        self._task: asyncio.Task[None] | None = None
        self._since = self._cpu = 0.0

    def _settle(self) -> None:
        late = time.perf_counter() - self._since - 0.005
        self.worst = max(self.worst, late)
        self.worst_cpu = max(self.worst_cpu, min(late, time.thread_time() - self._cpu))

    async def _beat(self) -> None:
        while True:
            self._since, self._cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.005)
            self._settle()

    def __enter__(self) -> Self:
        self.worst = self.worst_cpu = 0.0
        self._since, self._cpu = time.perf_counter(), time.thread_time()
        self._task = asyncio.ensure_future(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        # a beat still waiting at the end was held up too (work that never yields never lets it run)
        self._settle()
        self._task.cancel()

    def figures(self) -> dict[str, float]:
        return {"block": self.worst_cpu, "wall": self.worst}


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


# -- the data -------------------------------------------------------------------------------


async def build(dataset: DataSet, where: Path) -> None:
    if where.exists():
        shutil.rmtree(where)
    store = TinyDBStore(where, fsync=False)
    await store.open()
    await store.staff.insert_many([*dataset.staff(), ADMIN])
    for chunk in batched(dataset.customer_records(), 5000):
        await store.customers.insert_many(chunk)
    await store.close()


def queries(customers: list[Customer], rnd: random.Random) -> list[str]:
    """What reps type, drawn from the data: names, pinyin, initials, digits, companies, typos."""
    chinese = [c for c in customers if pinyin_variants(c.name)]
    latin = [c for c in customers if not pinyin_variants(c.name)]
    mix: list[str] = []
    for _ in range(4):
        zh = rnd.choice(chinese)
        spelled = pinyin_variants(zh.name)[0]
        en = rnd.choice(latin)
        first, last = en.name.split(" ")
        number = rnd.choice(customers).phones[0]
        cut = rnd.randrange(1, len(last))
        mix += [
            zh.name, "".join(spelled), " ".join(spelled), "".join(s[0] for s in spelled), zh.name[0],
            number[-8:-4], number[-4:], en.name, first, last[:cut] + last[cut + 1:],
            f"{first[:2]}{first[3:]} {last}",
        ]
    mix += ["华润", "ACME", "上海", "Hong Kong", "vip", "老客户", "golden tea", "wanke"]
    return mix


# -- the baseline: the code before the index -------------------------------------------------


def baseline_search_module() -> ModuleType | None:
    try:
        source = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:bot/domain/search.py"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("baseline_search", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_search"] = module  # dataclasses look their module up there
    exec(compile(source, "baseline_search.py", "exec"), module.__dict__)  # noqa: S102
    return module


class Baseline:
    """``CustomerService.search`` and ``duplicates`` as they were (decode all visible per call)."""

    def __init__(self, services: Services, old: ModuleType) -> None:
        self.services, self.old = services, old
        self.docs: dict[str, tuple[int, Any]] = {}

    def _doc(self, customer: Customer) -> Any:
        cached = self.docs.get(customer.id)
        if cached is not None and cached[0] == customer.version:
            return cached[1]
        doc = self.old.search_doc(customer)
        self.docs[customer.id] = (customer.version, doc)
        return doc

    async def search(self, actor: StaffUser, query: str, limit: int = 50) -> list[Customer]:
        customers = await self.services.customers.all_visible(actor, archived=None)
        by_id = {c.id: c for c in customers}
        index = self.old.SearchIndex(self._doc(c) for c in customers)
        return [by_id[m.id] for m in index.rank(query, limit)]

    async def duplicates(self, actor: StaffUser, draft: dict[str, Any]) -> int:
        store = self.services.store
        candidates: dict[str, Customer] = {}
        for number in draft.get("phones", []):
            for c in await store.customers.find({"phones": number}):
                candidates[c.id] = c
        if draft.get("company"):
            for c in await self.services.customers.all_visible(actor, archived=None):
                candidates.setdefault(c.id, c)
        new = card.customer_from_draft(draft, owner_id=actor.id, team=None, created_by=actor.id,
                                       now=NOW)
        return len(find_duplicates(new, list(candidates.values())))


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    new: dict[str, float] = field(default_factory=dict)
    old: dict[str, float] = field(default_factory=dict)


async def measure(size: int, reuse: bool, samples: int, baseline_samples: int) -> list[Row]:
    dataset = DataSet(customers=size, interactions=0)
    where = OUT / f"search-{size}"
    if not (reuse and (where / "MANIFEST.json").exists()):
        started = time.perf_counter()
        await build(dataset, where)
        log(f"{size:,} customers written in {time.perf_counter() - started:.0f} s")
    store = TinyDBStore(where, fsync=False, compact_on_close=False)
    started = time.perf_counter()
    await store.open()
    log(f"opened in {time.perf_counter() - started:.1f} s")
    rows: list[Row] = []
    try:
        config = load_config(None, environ={}, search=False)
        services = Services(config, store, SimulatedClock(NOW))
        rep = next(u for u in await store.staff.find() if u.role is Role.REP)
        rnd = random.Random(15)
        sample = [c for c in await store.customers.find(limit=5000)]
        mix = queries(sample, rnd)
        svc = services.customers
        heartbeat = Heartbeat()

        # the build, and a query issued at start (it waits for the build)
        with heartbeat:
            svc.search_index.start()
            at_start = await timed(lambda: svc.search(ADMIN, mix[0]))
            await svc.search_index.ready()
        build_s = svc.search_index.build_seconds or 0.0
        rows.append(Row("index build (s), in its worker", {"value": build_s, **heartbeat.figures()}))
        rows.append(Row("admin query at start (waits for the build)", {"value": at_start}))

        for who, actor in (("admin", ADMIN), ("rep", rep)):
            with heartbeat:
                first = await timed(lambda a=actor: svc.search(a, mix[1]))
                times = [await timed(lambda q=q, a=actor: svc.search(a, q))
                         for q in (mix * (samples // len(mix) + 1))[:samples]]
            rows.append(Row(f"{who} search", {"first": first, "p50": pct(times, 0.5),
                                              "p95": pct(times, 0.95), "max": max(times),
                                              **heartbeat.figures()}))

        company = "华润"
        drafts = [{"name": chinese_name(rnd), "company": company, "phones": [phone(rnd)]}
                  for _ in range(max(samples // 5, 10))]
        for who, actor in (("admin", ADMIN), ("rep", rep)):
            with heartbeat:
                times = [await timed(lambda d=d, a=actor: svc.duplicates(a, d)) for d in drafts]
            rows.append(Row(f"{who} duplicate check (new customer)",
                            {"first": times[0], "p50": pct(times, 0.5), "p95": pct(times, 0.95),
                             "max": max(times), **heartbeat.figures()}))

        old = baseline_search_module()
        if old is None:
            log("no git history: baseline skipped")
            return rows
        base = Baseline(services, old)
        by_name = {row.what: row for row in rows}
        for who, actor in (("admin", ADMIN), ("rep", rep)):
            with heartbeat:
                first = await timed(lambda a=actor: base.search(a, mix[1]))
                times = [await timed(lambda q=q, a=actor: base.search(a, q))
                         for q in mix[2:2 + baseline_samples]]
            by_name[f"{who} search"].old = {"first": first, "p50": pct(times, 0.5),
                                            "p95": pct(times, 0.95), "max": max(times),
                                            **heartbeat.figures()}
            with heartbeat:
                times = [await timed(lambda d=d, a=actor: base.duplicates(a, d))
                         for d in drafts[:max(3, baseline_samples // 4)]]
            by_name[f"{who} duplicate check (new customer)"].old = {
                "first": times[0], "p50": pct(times, 0.5), "p95": pct(times, 0.95),
                "max": max(times), **heartbeat.figures()}
    finally:
        services.customers.search_index.close()
        await store.close()
    return rows


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def blocks(figures: dict[str, float]) -> str:
    return f"{fmt(figures['block'] * 1000)} / {fmt(figures['wall'] * 1000)}"


def table(size: int, rows: list[Row]) -> str:
    lines = [f"### {size:,} customers", "",
             ("| what | first ms | p50 ms | p95 ms | max ms | worst loop block ms (CPU / wall) | "
              "baseline p50 / p95 / first ms | baseline block ms (CPU / wall) | p95 vs baseline | "
              "target |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if "value" in row.new:
            unit = row.what.endswith("(s), in its worker")
            value = row.new["value"]
            shown = f"{value:.1f} s" if unit else f"{fmt(value)} ms"
            block = blocks(row.new) if "block" in row.new else "—"
            lines.append(f"| {row.what} | {shown} | | | | {block} | | | | |")
            continue
        new, old = row.new, row.old
        target_ms = (TARGETS_MS["duplicates"] if "duplicate" in row.what
                     else TARGETS_MS["rep p95"] if row.what.startswith("rep")
                     else TARGETS_MS["admin p95"].get(size))
        verdict = "—" if target_ms is None else (
            f"≤ {target_ms:.0f}: {'PASS' if max(new['p95'], new['first']) <= target_ms else 'MISS'}")
        ratio = (f"{old['p95'] / new['p95']:.{0 if old['p95'] >= 10 * new['p95'] else 1}f}× faster"
                 if old else "—")
        baseline = (f"{fmt(old['p50'])} / {fmt(old['p95'])} / {fmt(old['first'])}" if old else "—")
        lines.append(
            f"| {row.what} | {fmt(new['first'])} | {fmt(new['p50'])} | {fmt(new['p95'])} | "
            f"{fmt(new['max'])} | {blocks(new)} | {baseline} | "
            f"{blocks(old) if old else '—'} | {ratio} | {verdict} |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    print(f"# services_search — {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, "
          f"{platform.processor() or platform.machine()}, python {platform.python_version()}\n")
    for size in args.sizes:
        rows = await measure(size, args.reuse, args.samples, args.baseline_samples)
        print(table(size, rows) + "\n", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10_000, 100_000], help="customer counts, comma-separated")
    parser.add_argument("--samples", type=int, default=200, help="queries per role")
    parser.add_argument("--baseline-samples", type=int, default=12, help="baseline queries per role")
    parser.add_argument("--reuse", action="store_true", help="reuse data sets under bench/out/")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
