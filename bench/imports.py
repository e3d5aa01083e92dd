"""Benchmark: importing 10 000 customers in chat while another user keeps asking for /help.

    python bench/imports.py                 # 10 000 rows, TinyDB store
    python bench/imports.py --rows 2000 --backend sql

The real bot polls the local sandbox (127.0.0.1 only). A manager sends a GBK CSV with
Chinese headers (phones in several formats, birthdays, a purchase per row, 2 % invalid,
1 % repeated in the file) and presses Import; meanwhile a rep sends /help over and over.
Printed: the preview's time (upload → preview shown: download, encoding, parsing,
duplicate checks), the import's time (press → summary and rejected file sent) and rows
per second, the rep's /help latency idle and during the import (p50 / p95 / max), and the
worst event-loop block (a 10 ms heartbeat's lateness, at most the loop thread's own CPU).
Target (issue 16): 10 000 rows in ≤ 30 s, /help answered within its usual latency.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot import Heartbeat

MANAGER, REP = 9001, 9002


class GcPauses:
    """The longest garbage-collector pause (it stops the loop like any other work)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.worst = max(self.worst, time.perf_counter() - self._began)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def make_csv(rows: int) -> bytes:
    lines = ["2026 客户名单,,,,,,,", "客户名称,联系电话,单位,职位,生日,产品,金额,备注"]
    for i in range(rows):
        phone = (f"138 {i // 10000:04d} {i % 10000:04d}" if i % 3 == 0 else
                 f"+86-139-{i // 10000:04d}-{i % 10000:04d}" if i % 3 == 1 else f"137{i:08d}")
        if i % 50 == 7:
            phone = "12345"  # invalid
        if i % 100 == 9:
            phone = f"138 {(i - 9) // 10000:04d} {(i - 9) % 10000:04d}"  # repeats row i-9
        birthday = ("1990/5/3", "1985年7月14日", "32996", "农历三月初五", "")[i % 5]
        lines.append(f"客户{i},{phone},公司{i % 300},经理,{birthday},茶叶,{100 + i % 900},备注{i}")
    return ("\n".join(lines) + "\n").encode("gbk")


async def run(rows: int, backend: str) -> dict[str, float]:
    from bot.activity import ApplicationActivity
    from bot.config import load_config
    from bot.domain.models import Role, StaffUser
    from bot.runner import running_bot
    from bot.sandbox.server import FloodLimits, SandboxServer

    sandbox = SandboxServer(flood_limits=FloodLimits.disabled())
    await sandbox.start()
    heartbeat = Heartbeat()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    result: dict[str, float] = {"rows": rows}
    with tempfile.TemporaryDirectory() as directory:
        base = load_config(None, environ={}, search=False)
        storage = dataclasses.replace(base.storage, backend=backend, path=str(Path(directory) / "data"),
                                      url=f"sqlite:///{directory}/crm.db")
        config = dataclasses.replace(
            base, storage=storage,
            telegram=dataclasses.replace(base.telegram, api_base_url=sandbox.base_url,
                                         file_base_url=sandbox.file_base_url, rate_limit=False),
            locale=dataclasses.replace(base.locale, default_language="en"),
        )
        activity = ApplicationActivity()
        sandbox.attach(activity)
        async with running_bot(config, token=sandbox.token, activity=activity, auto_tick=False,
                               poll_timeout=1) as application:
            store = application.bot_data["services"].store
            for uid, role in ((MANAGER, Role.MANAGER), (REP, Role.REP)):
                await store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=f"u{uid}", role=role,
                                                   teams=["east"], language="en"))
            manager = sandbox.user(MANAGER, first_name="Mei", language_code="en")
            rep = sandbox.user(REP, first_name="Rita", language_code="en")
            data = await asyncio.to_thread(make_csv, rows)
            idle = []
            for _ in range(20):
                began = time.perf_counter()
                await rep.send("/help")
                idle.append(time.perf_counter() - began)
            heartbeat.start()
            began = time.perf_counter()
            await manager.send_document("客户.csv", data, "text/csv", timeout=300)
            result["preview_s"] = time.perf_counter() - began
            label = next(label for row in manager.last_message().button_labels() for label in row
                         if label.startswith("✅ Import"))
            began = time.perf_counter()
            press = asyncio.create_task(manager.press(label, timeout=600))
            busy = []
            while not press.done():
                asked = time.perf_counter()
                await rep.send("/help", timeout=60)
                busy.append(time.perf_counter() - asked)
            await press
            result["import_s"] = time.perf_counter() - began
            heartbeat.stop()
            result["customers"] = await store.customers.count()
            result["idle_p50_ms"], result["idle_p95_ms"] = pct(idle, 50) * 1000, pct(idle, 95) * 1000
            result["busy_p50_ms"], result["busy_p95_ms"] = pct(busy, 50) * 1000, pct(busy, 95) * 1000
            result["busy_max_ms"], result["help_answers"] = max(busy or [0]) * 1000, len(busy)
            result["worst_block_ms"] = heartbeat.worst * 1000
            result["worst_gc_ms"] = pauses.worst * 1000
        sandbox.attach(None)
    await sandbox.stop()
    gc.callbacks.remove(pauses)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--backend", choices=("tinydb", "sql"), default="tinydb")
    args = parser.parse_args()
    r = asyncio.run(run(args.rows, args.backend))
    print(f"import of {r['rows']:.0f} rows ({args.backend}): {r['customers']:.0f} customers stored")
    print(f"  preview (upload → preview shown)  {r['preview_s']:6.1f} s")
    print(f"  import (press → summary sent)     {r['import_s']:6.1f} s   {r['rows'] / r['import_s']:.0f} rows/s")
    print(f"  another user's /help idle         p50 {r['idle_p50_ms']:.0f} ms  p95 {r['idle_p95_ms']:.0f} ms")
    print(f"  ... during the import             p50 {r['busy_p50_ms']:.0f} ms  p95 {r['busy_p95_ms']:.0f} ms  "
          f"max {r['busy_max_ms']:.0f} ms  ({r['help_answers']:.0f} answers)")
    print(f"  worst event-loop block            {r['worst_block_ms']:.0f} ms "
          f"(longest garbage-collector pause {r['worst_gc_ms']:.0f} ms)")


if __name__ == "__main__":
    main()
