"""Benchmark: the whole bot through the sandbox, against a bare PTB echo bot in the same run.

    python bench/bot.py                       # 50 users, 20 s unpaced + 20 s paced at 30/s
    python bench/bot.py --users 20 --seconds 10 --rate 30

N simulated staff users (the 50 reps and managers of ``bench/datagen.py``,
with 10 000 customers of theirs and ``--interactions`` interactions -- 100 000
by default: size M -- in a TinyDB store built once and copied into each run)
chat with the real bot through the local sandbox on 127.0.0.1, each
repeating a realistic mix:
``/add`` (quick add to the confirmation card), ``/cancel``, ``/log`` (quick
log), ``/find``, pressing the first result (``card``) and ``/feedback``.
Each update's latency is from the sandbox queuing it to the bot having
finished it (the sandbox's wait, ``bot/activity.py``). Unpaced: every user
sends its next update as soon as the last one is done. Paced: updates start
at ``--rate`` per second, spread over the users, whether the last is done.

Each configuration runs in its own process (so RSS is its own): the bot with
its rate limiter off (``[telegram] rate_limit = false``, sandbox flood
control off), the bot with the Telegram-shaped limiter on under the
sandbox's Telegram-like ``FloodLimits()`` (429s counted), and the baseline —
a bare python-telegram-bot echo bot on the same sandbox, the same users and
the same texts. Printed: updates/s, p50/p95/p99 per kind, the worst event
loop block (a 10 ms heartbeat's lateness, counting only the loop thread's
own CPU time, so other processes on the cores do not count) and RSS, with
the ratios to the baseline.  Last, per crm run: the cold start (opening the
size-M store, the start-up warm-ups and the Application's start, until it
polls) and the process's RSS before opening, at start and at the end; the
process also holds the sandbox and the simulated users, so the echo run's
RSS is the baseline to subtract.  The driven phase starts once the customer
search index is built (timed apart: "then search index built"), so the figures
are the bot serving, not its start-up.  ``--one crm --template DIR --profile FILE``
profiles one run's driven phase.  Nothing leaves 127.0.0.1; every run is
bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KINDS = ("add", "cancel", "log", "find", "card", "feedback")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Heartbeat:
    """The worst event-loop block: a 10 ms beat's lateness, at most the loop thread's CPU time."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.01)
            late = time.perf_counter() - wall - 0.01
            self.worst = max(self.worst, min(late, time.thread_time() - cpu))

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def script(k: int, names: list[str]) -> list[tuple[str, str]]:
    """One user's round of the mix: (kind, text); ``card`` presses the first button."""
    name = names[k % len(names)]
    return [
        ("add", f"/add 测试{k} 1380013{k % 10000:04d} Bench Co"),
        ("cancel", "/cancel"),
        ("log", f"/log {name} called, wants a quote, follow up Friday"),
        ("cancel", "/cancel"),
        ("find", f"/find {name[:2]}"),
        ("card", ""),
        ("feedback", "/feedback"),
    ]


async def drive(users: list[Any], names: dict[int, list[str]], seconds: float,
                rate: float | None) -> tuple[dict[str, list[float]], int, float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one(user: Any, kind: str, text: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            if kind == "card":
                labels = [label for row in (user.last_message().button_labels() if
                          user.last_message() else []) for label in row]
                if not labels:
                    return
                await user.press(labels[0], timeout=60)
            else:
                await user.send(text, timeout=60)
        except Exception:  # noqa: BLE001 - counted, the run goes on
            errors += 1
            return
        latencies[kind].append(time.perf_counter() - started)

    begin = time.perf_counter()
    if rate is None:
        async def loop_user(index: int, user: Any) -> None:
            k = index
            while time.perf_counter() < deadline:
                for kind, text in script(k, names[index]):
                    if time.perf_counter() >= deadline:
                        return
                    await one(user, kind, text)
                k += len(users)

        await asyncio.gather(*(loop_user(i, u) for i, u in enumerate(users)))
    else:
        # Open loop: update n starts at begin + n / rate; each user's updates stay in order.
        queues = [script(i, names[i]) for i in range(len(users))]
        locks = [asyncio.Lock() for _ in users]
        tasks = []
        n = 0
        while (at := begin + n / rate) < deadline:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            index = n % len(users)
            step = (n // len(users)) % len(queues[index])
            kind, text = queues[index][step]

            async def in_turn(i: int = index, kind: str = kind, text: str = text) -> None:
                async with locks[i]:
                    await one(users[i], kind, text)

            tasks.append(asyncio.create_task(in_turn()))
            n += 1
        await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    return latencies, errors, elapsed


async def build_store(path: Path, users_n: int, interactions: int) -> None:
    """The data set (``DataSet``'s staff, 10 000 customers, ``interactions``) in a TinyDB store
    at ``path``: built once per benchmark, copied into each run."""
    from itertools import islice

    from bench.datagen import DataSet
    from storage import TinyDBStore

    data = DataSet(interactions=interactions)
    store = TinyDBStore(path, fsync=False)
    await store.open()
    for member in data.staff()[:users_n]:
        await store.staff.insert(dataclasses.replace(member, language="en"))
    customers = list(data.customer_records())
    for k in range(0, len(customers), 5000):
        await store.customers.insert_many(customers[k:k + 5000])
    records = data.interaction_records([(c.id, c.owner_id, c.phones) for c in customers])
    while chunk := list(islice(records, 10_000)):
        await store.interactions.insert_many(chunk)
    await store.close()


async def startup_alone(template: str) -> dict[str, Any]:
    """The bot process alone, no sandbox or users: RSS after the imports, after the start-up
    warm-ups, and with a copy of the store open; the open's wall and CPU time."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import bot.app
    import bot.runner  # what the bot imports at start
    from bot.telegram_request import warm_up
    from storage import TinyDBStore

    result: dict[str, Any] = {"rss_imports_mb": rss_mb()}
    bot.app.warm_up(datetime.now(UTC), ZoneInfo("Asia/Shanghai"))
    warm_up()
    result["rss_warm_mb"] = rss_mb()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data"
        shutil.copytree(template, path)
        (path / "LOCK").unlink(missing_ok=True)
        store = TinyDBStore(path)
        wall, cpu = time.perf_counter(), time.process_time()
        await store.open()
        result.update(open_s=time.perf_counter() - wall, open_cpu_s=time.process_time() - cpu,
                      rss_open_mb=rss_mb())
        await store.close()
    return result


async def run_one(which: str, users_n: int, seconds: float, rate: float | None,
                  template: str | None = None, profile: str | None = None) -> dict[str, Any]:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, MessageHandler, filters
    from telegram.request import HTTPXRequest

    from bench.datagen import DataSet
    from bot.activity import ApplicationActivity
    from bot.concurrency import PerUserUpdateProcessor
    from bot.config import load_config
    from bot.runner import running_bot
    from bot.sandbox.server import FloodLimits, SandboxServer

    limiter_on = which == "crm+limiter"
    sandbox = SandboxServer(flood_limits=FloodLimits() if limiter_on else FloodLimits.disabled())
    await sandbox.start()
    data = DataSet()
    staff = data.staff()[:users_n]
    names: dict[int, list[str]] = defaultdict(list)
    heartbeat = Heartbeat()
    result: dict[str, Any] = {"which": which}
    with tempfile.TemporaryDirectory() as directory:
        base = load_config(None, environ={}, search=False)
        config = dataclasses.replace(
            base,
            telegram=dataclasses.replace(
                base.telegram, api_base_url=sandbox.base_url,
                file_base_url=sandbox.file_base_url, rate_limit=limiter_on,
            ),
            storage=dataclasses.replace(base.storage, path=str(Path(directory) / "data")),
            locale=dataclasses.replace(base.locale, default_language="en"),
        )
        owners = {s.id for s in staff}
        for customer in data.customer_records():
            if customer.owner_id in owners and len(names[int(customer.owner_id)]) < 20:
                names[int(customer.owner_id)].append(customer.name)
        users = [sandbox.user(s.telegram_id, first_name=s.name, language_code="en") for s in staff]
        user_names = {i: names[s.telegram_id] or ["张伟"] for i, s in enumerate(staff)}
        activity = ApplicationActivity()
        sandbox.attach(activity)
        if which == "echo":
            async def echo(update: Update, context: Any) -> None:
                await update.effective_message.reply_text(update.effective_message.text)  # type: ignore[union-attr]

            application = (
                ApplicationBuilder().token(sandbox.token).base_url(sandbox.base_url)
                .concurrent_updates(activity.wrap(PerUserUpdateProcessor(
                    config.telegram.concurrent_updates)))
                .request(HTTPXRequest(connection_pool_size=256,
                                      httpx_kwargs=activity.httpx_kwargs()))
                .build()
            )
            application.add_handler(MessageHandler(filters.ALL, echo))
            async with application:
                activity.attach(application)
                await application.start()
                await application.updater.start_polling(timeout=1, allowed_updates=Update.ALL_TYPES)
                result["rss_start_mb"] = rss_mb()
                heartbeat.start()
                latencies, errors, elapsed = await drive(users, user_names, seconds, rate)
                result["rss_end_mb"] = rss_mb()  # still running (after it, the store is closed)
                heartbeat.stop()
                await application.updater.stop()
                await application.stop()
                activity.detach()
        else:
            assert template is not None
            shutil.copytree(template, config.storage.path)
            (Path(config.storage.path) / "LOCK").unlink(missing_ok=True)
            gc.collect()
            result["rss_before_mb"] = rss_mb()
            began = time.perf_counter()
            async with running_bot(config, token=sandbox.token, activity=activity,
                                   auto_tick=False, poll_timeout=1) as application:
                result["start_s"] = time.perf_counter() - began
                # The search index is built in its worker after the start (``bot/app.py``); until
                # it is, a search or an add's duplicate check waits for it.  Timed on its own, and
                # waited for, so the driven phase measures the bot serving, not its start-up.
                await application.bot_data["services"].customers.search_index.ready()
                result["index_s"] = time.perf_counter() - began - result["start_s"]
                store = application.bot_data["services"].store
                result["records"] = {
                    name: await store.collection(name).count() for name in ("customers", "interactions")
                }
                result["rss_start_mb"] = rss_mb()
                heartbeat.start()
                profiler = None
                if profile:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                latencies, errors, elapsed = await drive(users, user_names, seconds, rate)
                result["rss_end_mb"] = rss_mb()  # still running (after it, the store is closed)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(profile)
                heartbeat.stop()
        sandbox.attach(None)
    await sandbox.stop()
    total = sum(len(v) for v in latencies.values())
    result.update(
        updates=total, errors=errors, seconds=elapsed, per_second=total / elapsed,
        worst_block_ms=heartbeat.worst * 1000,
        refusals_429=sandbox.api.flood.refusals,
        kinds={kind: sorted(values) for kind, values in latencies.items()},
    )
    return result


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def report(results: list[dict[str, Any]], mode: str) -> None:
    base = next(r for r in results if r["which"] == "echo")
    print(f"\n## {mode}\n")
    print("| bot | updates/s | vs echo | p50 | p95 | p99 | worst loop block | RSS start→end | 429s | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        every = sorted(v for values in r["kinds"].values() for v in values)
        print(f"| {r['which']} | {r['per_second']:.1f} | {r['per_second'] / base['per_second']:.2f}x "
              f"| {pct(every, .5):.0f} ms | {pct(every, .95):.0f} ms | {pct(every, .99):.0f} ms "
              f"| {r['worst_block_ms']:.0f} ms | {r['rss_start_mb']:.0f}→{r['rss_end_mb']:.0f} MB "
              f"| {r['refusals_429']} | {r['errors']} |")
    print("\nper kind, p50 / p95 / p99 (ms):\n")
    for r in results:
        parts = [f"{kind} {pct(v, .5):.0f}/{pct(v, .95):.0f}/{pct(v, .99):.0f} (n={len(v)})"
                 for kind, v in sorted(r["kinds"].items())]
        print(f"- {r['which']}: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=30.0, help="paced updates per second")
    parser.add_argument("--interactions", type=int, default=100_000,
                        help="interactions in the store beside the 10 000 customers (100 000: size M)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--paced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="FILE",
                        help="with --one crm: cProfile the driven phase into FILE")
    args = parser.parse_args()
    if args.one == "startup":
        print(json.dumps(asyncio.run(startup_alone(args.template))))
        return
    if args.one:
        result = asyncio.run(run_one(args.one, args.users, args.seconds,
                                     args.rate if args.paced else None, args.template,
                                     args.profile))
        print(json.dumps(result))
        return
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.platform()}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{args.users} users, {args.seconds:.0f} s per run; paced at {args.rate:.0f} updates/s; "
          f"store: 10 000 customers + {args.interactions:,} interactions")
    with tempfile.TemporaryDirectory() as directory:
        template = str(Path(directory) / "data")
        asyncio.run(build_store(Path(template), args.users, args.interactions))
        starts = []
        for mode, paced in (("unpaced", False), (f"paced at {args.rate:.0f} updates/s", True)):
            results = []
            for which in ("echo", "crm", "crm+limiter"):
                command = [sys.executable, __file__, "--one", which, "--users", str(args.users),
                           "--seconds", str(args.seconds), "--rate", str(args.rate),
                           "--template", template]
                if paced:
                    command.append("--paced")
                out = subprocess.run(command, capture_output=True, text=True, check=False,
                                     timeout=args.seconds * 10 + 300)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{which} failed")
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            report(results, mode)
            starts.extend(r for r in results if "start_s" in r)
        out = subprocess.run([sys.executable, __file__, "--one", "startup", "--template", template],
                             capture_output=True, text=True, check=True, timeout=600)
        alone = json.loads(out.stdout.strip().splitlines()[-1])
    start_up(starts, alone)


def start_up(results: list[dict[str, Any]], alone: dict[str, Any]) -> None:
    """The bot process alone; then cold start (store open + Application start) and RSS per crm run."""
    print("\n## start-up and memory\n")
    print(f"the bot process alone: RSS {alone['rss_imports_mb']:.0f} MB after its imports, "
          f"{alone['rss_warm_mb']:.0f} MB after the start-up warm-ups (targets: ≤ 250 MB at start), "
          f"{alone['rss_open_mb']:.0f} MB with the store open (≤ 400 MB at M); "
          f"cold open {alone['open_s']:.2f} s ({alone['open_cpu_s']:.2f} s CPU; ≤ 2 s)\n")
    print("| run | records | cold start | then search index built | RSS before open | RSS at start "
          "| RSS at end |")
    print("|---|---|---|---|---|---|---|")
    for n, r in enumerate(results, 1):
        records = " + ".join(f"{count:,} {name}" for name, count in r["records"].items())
        print(f"| {n}: {r['which']} | {records} | {r['start_s']:.2f} s | +{r['index_s']:.2f} s "
              f"| {r['rss_before_mb']:.0f} MB | {r['rss_start_mb']:.0f} MB | {r['rss_end_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
