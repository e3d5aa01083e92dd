"""Benchmark: the daily scan through ``ReminderGenerator`` at size M and L, against the old full scan.

    python bench/services_scan.py                  # M: 10 000 customers, 150k interactions
    python bench/services_scan.py --size L         # L: 100 000 customers, 1.5M interactions
    python bench/services_scan.py --reuse          # keep the generated stores under bench/out/
    python bench/services_scan.py --only incremental --reuse --stacks   # where the loop blocks

The data set (``bench/scan_data.py``): 50 reps; customers, interactions,
purchases (about 70 % of the customers buy) and feedback spread over two
years; a third of the customers with a birthday. It is written once and
copied, so both scans start from the same store:

- **incremental** (``ReminderGenerator.daily_scan``, what ``run_daily`` runs
  on the first run of a day): the first scan ever (no bookmark: everyone),
  then — after one simulated working day made through the services (each
  rep logs 20 contacts, 1 purchase in 20 contacts, feedback, card edits) —
  the next day's scan (steady state);
- **baseline** (``ReminderGenerator.full_scan``: the scan as it was, every
  customer reclassified and scored every day with a ``find`` per customer
  and collection): the same two days on the copy.

Printed per scan: wall time, customers assessed, and the worst event-loop
block (a 10 ms heartbeat's lateness counting only the loop thread's CPU, as
``bench/bot.py`` measures it), then the steady state's ratio to the
baseline. ``run_daily`` of the next day (greetings, agendas, follow-ups and
the scan together) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import shutil
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot import Heartbeat
from bench.datagen import NOW
from bench.scan_data import day_of_changes, fill
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer
from bot.services import Services
from storage import TinyDBStore

SIZES = {  # customers, interactions, purchases, feedback
    "S": (1_000, 15_000, 3_000, 500),
    "M": (10_000, 150_000, 30_000, 5_000),
    "L": (100_000, 1_500_000, 300_000, 50_000),
}
OUT = Path(__file__).resolve().parent / "out"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def build(size: str, where: Path) -> list[Customer]:
    customers, interactions, purchases, feedback = SIZES[size]
    store = TinyDBStore(where, compact_on_close=True)
    await store.open()
    started = time.perf_counter()
    people = await fill(store, customers=customers, interactions=interactions, purchases_n=purchases,
                        feedback_n=feedback)
    log(f"{size} written in {time.perf_counter() - started:.0f} s")
    await store.close()
    return people


class GcWatch:
    """The longest garbage collection (any generation) while it runs: the loop's blocks include them."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.worst = max(self.worst, time.thread_time() - self._started)

    def start(self) -> None:
        gc.callbacks.append(self)

    def stop(self) -> None:
        gc.callbacks.remove(self)


class StackSampler:
    """With ``--stacks``: a thread that prints the loop thread's stack when a heartbeat is 40 ms late."""

    def __init__(self) -> None:
        self.beat = time.perf_counter()
        self.loop_thread = threading.get_ident()
        self.seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    async def _beat(self) -> None:
        while True:
            self.beat = time.perf_counter()
            await asyncio.sleep(0.005)

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            if time.perf_counter() - self.beat > 0.04:
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    where = "".join(traceback.format_stack(frame)[-8:])
                    self.seen[where] = self.seen.get(where, 0) + 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat())
        self._thread.start()

    def stop(self) -> None:
        self._task.cancel()
        self._stop.set()
        self._thread.join()
        for where, n in sorted(self.seen.items(), key=lambda kv: -kv[1])[:6]:
            log(f"loop thread busy > 40 ms, {n} samples at:\n{where}")


STACKS = False
GC_FREEZE = False


GC_WORST: dict[int, float] = {}  # id of a timed result -> its longest garbage collection


async def timed(call: Any) -> tuple[float, float, Any]:
    heartbeat = Heartbeat()
    heartbeat.start()
    collections = GcWatch()
    collections.start()
    sampler = StackSampler() if STACKS else None
    if sampler:
        sampler.start()
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    result = await call
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.02)
    heartbeat.stop()
    collections.stop()
    log(f"{elapsed:.2f} s, worst loop block {heartbeat.worst * 1000:.0f} ms, "
        f"longest garbage collection {collections.worst * 1000:.0f} ms")
    if sampler:
        sampler.stop()
    return elapsed, heartbeat.worst, result


async def two_days(which: str, where: Path, people: list[Customer], changes: dict[str, int]) -> dict[str, Any]:
    config = load_config(None, environ={}, search=False)
    clock = SimulatedClock(NOW + timedelta(hours=1))  # 09:00 in Shanghai
    store = TinyDBStore(where, fsync=True)
    await store.open()
    if GC_FREEZE:
        gc.freeze()  # the loaded store out of the collector's sight (what bot start-up could do)
    svc = Services(config=config, store=store, clock=clock)
    gen = svc.generator
    scan = gen.daily_scan if which == "incremental" else gen.full_scan
    out: dict[str, Any] = {}
    out["first"] = await timed(scan(clock.now()))
    log(f"{which}: first scan {out['first'][0]:.1f} s")
    clock.advance(timedelta(hours=8))
    started = time.perf_counter()
    await day_of_changes(svc, people, random.Random(1), **changes)
    log(f"{which}: a day of changes made in {time.perf_counter() - started:.0f} s")
    clock.advance(timedelta(hours=16))
    out["steady"] = await timed(scan(clock.now()))
    log(f"{which}: steady scan {out['steady'][0]:.1f} s")
    if which == "incremental":
        clock.advance(timedelta(days=1))
        await day_of_changes(svc, people, random.Random(2), **changes)
        clock.advance(timedelta(minutes=5))
        out["run_daily"] = await timed(gen.run_daily(clock.now()))
        clock.advance(timedelta(hours=1))
        out["hourly"] = await timed(gen.run_daily(clock.now()))
    await store.close()
    return out


async def run(args: argparse.Namespace) -> None:
    customers, interactions, purchases, feedback = SIZES[args.size]
    base = OUT / f"scan-{args.size}"
    source = base / "source"
    people_file = base / "built"
    if not (args.reuse and people_file.exists()):
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        await build(args.size, source)
        people_file.write_text("ok")
    store = TinyDBStore(source)
    await store.open()
    people = await store.customers.find()
    await store.close()
    reps = 50
    changes = {"interactions": reps * 20, "purchases_n": reps, "feedback_n": reps // 5, "edits": reps}
    results = {}
    for which in args.only or ("incremental", "baseline"):
        copy = base / which
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        results[which] = await two_days(which, copy, people, changes)
        if not args.reuse:
            shutil.rmtree(copy, ignore_errors=True)
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.platform()}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"size {args.size}: {customers:,} customers, {interactions:,} interactions, {purchases:,} purchases, "
          f"{feedback:,} feedback; a day of changes: {changes['interactions']} contacts, "
          f"{changes['purchases_n']} purchases, {changes['feedback_n']} feedback, {changes['edits']} card edits\n")
    print("| scan | first run | worst loop block | steady state (next day) | customers assessed | worst loop block |")
    print("|---|---|---|---|---|---|")
    for which, r in results.items():
        first, steady = r["first"], r["steady"]
        assessed = f"{steady[2]:,}" if isinstance(steady[2], int) else "all"
        print(f"| {which} | {first[0]:.2f} s | {first[1] * 1000:.0f} ms | {steady[0]:.2f} s | {assessed} "
              f"| {steady[1] * 1000:.0f} ms |")
    inc, old = results["incremental"], results.get("baseline")
    if old is not None:
        print(f"\nsteady state: {inc['steady'][0]:.2f} s vs {old['steady'][0]:.2f} s = "
              f"{inc['steady'][0] / old['steady'][0]:.2f}x the baseline; first run "
              f"{inc['first'][0] / old['first'][0]:.2f}x")
    print(f"run_daily, first run of the next day (follow-ups, greetings, agendas, scan): "
          f"{inc['run_daily'][0]:.2f} s, worst loop block {inc['run_daily'][1] * 1000:.0f} ms; "
          f"an hourly run later that day: {inc['hourly'][0]:.2f} s, worst loop block "
          f"{inc['hourly'][1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="M")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the generated store")
    parser.add_argument("--only", action="append", choices=("incremental", "baseline"),
                        help="run only this scan (the incremental one is always needed for the report)")
    parser.add_argument("--stacks", action="store_true", help="print where the loop thread blocks > 40 ms")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() once the store is open (full collections then skip its records)")
    args = parser.parse_args()
    global STACKS, GC_FREEZE
    STACKS, GC_FREEZE = args.stacks, args.gc_freeze
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
