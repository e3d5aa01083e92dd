"""Benchmark: due reminders delivered by the real bot under the sandbox's Telegram-like flood limits.

    python bench/reminders.py                          # 3 000 reminders: 100 chats × 30, 300 × 10, 50 × 60
    python bench/reminders.py --total 3000 --chats 100 # one scenario

The bot runs with its Telegram-shaped rate limiter on, against the local
sandbox with ``FloodLimits()`` (30 messages/s overall; per chat a burst of
20, then 1/s — what Telegram tolerates). ``--total`` follow-up reminders,
spread evenly over ``--chats`` reps (a customer each), fall due at once;
the bot's own delivery job (``bot.app.start_delivery_job``, every second)
picks them up. Timed: from the moment they are due until the last one is
marked sent. The floor is what the limits allow, computed from the same
``FloodLimits``: ``max(total / global rate, (per-chat count − burst) / chat
rate)``. Meanwhile another user sends ``/help`` every second; its latency
(from the sandbox queuing the update to the bot having answered) shows
whether interactive answers wait behind the deliveries (ten /help before the
reminders fall due are the baseline). Printed per
scenario: total time, floor, ratio, the 429s the sandbox answered, and the
/help p50/p95. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCENARIOS = ((3000, 100), (3000, 300), (3000, 50))
HELP_EVERY = 1.0


def floor_seconds(total: int, chats: int, limits: Any) -> float:
    per_chat = -(-total // chats)
    chat_floor = max(0, per_chat - limits.chat_burst) / limits.chat_per_second
    return max(total / limits.global_per_second, chat_floor)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def scenario(total: int, chats: int) -> dict[str, Any]:
    from bot.activity import ApplicationActivity
    from bot.app import start_delivery_job
    from bot.config import load_config
    from bot.domain.models import Customer, Reminder, ReminderKind, ReminderStatus, Role, StaffUser
    from bot.runner import make_store, running_bot
    from bot.sandbox.server import FloodLimits, SandboxServer
    from handlers.common import SERVICES_KEY

    limits = FloodLimits()
    sandbox = SandboxServer(flood_limits=limits)
    await sandbox.start()
    with tempfile.TemporaryDirectory() as directory:
        base = load_config(None, environ={}, search=False)
        config = dataclasses.replace(
            base,
            telegram=dataclasses.replace(base.telegram, api_base_url=sandbox.base_url,
                                         file_base_url=sandbox.file_base_url, rate_limit=True),
            storage=dataclasses.replace(base.storage, path=str(Path(directory) / "data")),
            locale=dataclasses.replace(base.locale, default_language="en"),
        )
        reps = [StaffUser(id=str(600_000 + k), telegram_id=600_000 + k, name=f"Rep {k}", role=Role.REP,
                          teams=["east"], language="en", quiet_hours=(0, 0)) for k in range(chats)]
        helper = StaffUser(id="599999", telegram_id=599_999, name="Asker", role=Role.REP, language="en")
        store = make_store(config)
        await store.open()
        await store.staff.insert_many([*reps, helper])
        customers = [Customer(name=f"Client {n}", owner_id=reps[n % chats].id, team="east")
                     for n in range(total)]
        await store.customers.insert_many(customers)
        await store.close()
        asker = sandbox.user(helper.telegram_id, first_name="Asker", language_code="en")
        for rep in reps:
            sandbox.user(rep.telegram_id, first_name=rep.name, language_code="en")
        activity = ApplicationActivity()
        sandbox.attach(activity)
        result: dict[str, Any] = {"total": total, "chats": chats}
        async with running_bot(config, token=sandbox.token, activity=activity, auto_tick=False,
                               poll_timeout=1) as application:
            svc = application.bot_data[SERVICES_KEY]
            quiet = []
            for _ in range(11):  # /help with nothing else going on (the first one warms up)
                t = time.perf_counter()
                await asker.send("/help", timeout=60)
                quiet.append(time.perf_counter() - t)
            result["quiet_p50"], result["quiet_p95"] = pct(quiet[1:], 0.5), pct(quiet[1:], 0.95)
            start_delivery_job(application)
            now = svc.clock.now()
            await svc.store.reminders.insert_many([
                Reminder(kind=ReminderKind.FOLLOW_UP, recipient_id=c.owner_id, due_at=now,
                         dedupe_key=f"follow_up:{c.id}", customer_id=c.id, created_at=now, updated_at=now)
                for c in customers])
            started = time.perf_counter()
            refused_before = sandbox.api.flood.refusals
            helps: list[float] = []
            done = asyncio.Event()

            async def ask() -> None:
                while not done.is_set():
                    t = time.perf_counter()
                    await asker.send("/help", timeout=60)
                    helps.append(time.perf_counter() - t)
                    await asyncio.sleep(HELP_EVERY)

            asking = asyncio.create_task(ask())
            while await svc.store.reminders.count({"status": ReminderStatus.SENT.value}) < total:
                await asyncio.sleep(0.2)
                if time.perf_counter() - started > 20 * floor_seconds(total, chats, limits) + 120:
                    break
            elapsed = time.perf_counter() - started
            done.set()
            await asking
            result.update(
                seconds=elapsed, floor=floor_seconds(total, chats, limits),
                sent=await svc.store.reminders.count({"status": ReminderStatus.SENT.value}),
                refusals=sandbox.api.flood.refusals - refused_before,
                limiter_429=application.bot.rate_limiter.retries_after_429,
                help_p50=pct(helps, 0.5), help_p95=pct(helps, 0.95), helps=len(helps),
            )
        sandbox.attach(None)
    await sandbox.stop()
    return result


async def run(args: argparse.Namespace) -> None:
    scenarios = [(args.total, args.chats)] if args.chats else list(SCENARIOS)
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.platform()}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("sandbox FloodLimits(): 30 messages/s overall, per chat a burst of 20 then 1/s; "
          f"a concurrent /help every {HELP_EVERY * 1000:.0f} ms\n")
    print("| reminders | chats | per chat | time | floor | ratio | sent | 429s | /help p50 / p95 during "
          "| /help p50 / p95 before |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for total, chats in scenarios:
        r = await scenario(total, chats)
        print(f"| {total} | {chats} | {-(-total // chats)} | {r['seconds']:.1f} s | {r['floor']:.0f} s "
              f"| {r['seconds'] / r['floor']:.2f}x | {r['sent']} | {r['refusals']} "
              f"| {r['help_p50']:.0f} / {r['help_p95']:.0f} ms | {r['quiet_p50']:.0f} / {r['quiet_p95']:.0f} ms |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=0, help="one scenario with this many chats")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
