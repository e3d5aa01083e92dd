"""Benchmark: monthly reports through ``ReportService`` on the real TinyDB store (issue 15.2).

    python bench/services_reports.py                # size M
    python bench/services_reports.py --size L       # 10x (slow to build: cached in --data)
    python bench/services_reports.py --runs 3

Size M is a 50-rep team after two years: 10 000 customers, 150 000
interactions, 30 000 purchases, 5 000 feedback items and 3 000 follow-up
reminders (``bench/datagen.py`` for the staff, the customers and the
interactions; purchases, feedback and reminders from the same kind of seeded
generator here).  L is ten times that.  The store is built once per size into
``--data`` and copied for each run (the report writes its snapshot).

Timed, for a manager (team-0, a tenth of the data) and an admin (everything),
the monthly report of December 2025 asked on 1 January 2026:

- **figures**: ``ReportService.report`` (the load and the computation);
- **chart** and **workbook**: ``ReportService.chart`` and ``report_workbook``;
- **worst loop block**: the longest gap a heartbeat task (every 5 ms) saw
  beyond its own sleep during the run;
- **/help latency**: a trivial coroutine woken every 20 ms while the report
  builds, the time from due to done (p50 / p95 / max).

The baseline, in the same run on the same store, is the load this branch
replaced (``legacy_load``: every record of the scope's customers, read from
the whole collections, decoded on the loop), followed by the same
computation in a worker thread; it is checked to give the same figures.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import platform
import random
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.datagen import NOW, SPAN, DataSet
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain import churn
from bot.domain.churn import ChurnRules
from bot.domain.models import (
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Purchase,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
)
from bot.domain.reports import (
    AtRiskInput,
    Period,
    Report,
    ReportData,
    ReportSettings,
    compute_report,
)
from bot.services import Services
from bot.services.reports import WHOLE_COLLECTION_FROM, ReportScope, ReportService, _compute
from storage.base import Range, Store
from storage.tinydb_store.store import TinyDBStore

SIZES = {
    "M": {"customers": 10_000, "interactions": 150_000, "purchases": 30_000, "feedback": 5_000,
          "reminders": 3_000},
    "S": {"customers": 1_000, "interactions": 15_000, "purchases": 3_000, "feedback": 500,
          "reminders": 300},
}
SIZES["L"] = {k: v * 10 for k, v in SIZES["M"].items()}
ADMIN_ID = "699999"
MANAGER_ID = "700000"  # DataSet.staff(): every tenth is a manager; 700000 leads team-0
PRODUCTS = ("龙井礼盒", "普洱", "Jasmine tea", "铁观音", "Tea set")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def batched(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def purchases_feedback_reminders(
    sizes: dict[str, int], keys: list[tuple[str, str, list[str]]], seed: int
) -> tuple[list[Purchase], list[Feedback], list[Reminder]]:
    """Purchases (5 % in USD), feedback (a third complaints) and follow-up reminders, seeded."""
    rnd = random.Random(seed + 3)
    weights = [rnd.paretovariate(2.0) for _ in keys]
    start = NOW - SPAN

    def when() -> datetime:
        return start + timedelta(seconds=rnd.randrange(int(SPAN.total_seconds())))

    purchases = []
    for index in rnd.choices(range(len(keys)), weights=weights, k=sizes["purchases"]):
        cid, owner, _ = keys[index]
        at = when()
        purchases.append(Purchase(
            id=f"{int(at.timestamp() * 1000):012x}{rnd.getrandbits(32):08x}",
            customer_id=cid, owner_id=owner, product=rnd.choice(PRODUCTS),
            amount=Decimal(rnd.randrange(5_000, 2_000_000)) / 100,
            currency="USD" if rnd.random() < 0.05 else "CNY",
            purchased_on=at.astimezone(UTC).date(), quantity=rnd.randint(1, 5),
            created_at=at, updated_at=at,
        ))
    feedback = []
    for index in rnd.choices(range(len(keys)), weights=weights, k=sizes["feedback"]):
        cid, owner, _ = keys[index]
        at = when()
        status = rnd.choice(tuple(FeedbackStatus))
        resolved = (at + timedelta(hours=rnd.randint(1, 300))
                    if status in (FeedbackStatus.RESOLVED, FeedbackStatus.CONFIRMED) else None)
        confirmed = resolved + timedelta(hours=rnd.randint(1, 48)) if (
            resolved and status is FeedbackStatus.CONFIRMED) else None
        feedback.append(Feedback(
            id=f"{int(at.timestamp() * 1000):012x}{rnd.getrandbits(32):08x}",
            customer_id=cid, owner_id=owner,
            kind=FeedbackKind.COMPLAINT if rnd.random() < 0.35 else rnd.choice(tuple(FeedbackKind)),
            content="物流太慢，包装破损", status=status, resolved_at=resolved, confirmed_at=confirmed,
            csat=rnd.randint(1, 5) if rnd.random() < 0.5 else None,
            nps=rnd.randint(0, 10) if rnd.random() < 0.4 else None,
            deleted=rnd.random() < 0.01, created_at=at, updated_at=at,
        ))
    reminders = []
    for k in range(sizes["reminders"]):
        cid, owner, _ = keys[rnd.randrange(len(keys))]
        due = NOW - timedelta(days=90) + timedelta(seconds=rnd.randrange(120 * 86_400))
        created = due - timedelta(days=rnd.randint(1, 20))
        reminders.append(Reminder(
            kind=ReminderKind.FOLLOW_UP, recipient_id=owner, due_at=due,
            dedupe_key=f"bench-follow-up:{k}", customer_id=cid,
            status=rnd.choice((ReminderStatus.PENDING, ReminderStatus.SENT, ReminderStatus.CANCELLED)),
            created_at=created, updated_at=created,
        ))
    return purchases, feedback, reminders


def records_of(sizes: dict[str, int]) -> list[tuple[str, list[Any]]]:
    """The data set of ``sizes`` (``SIZES``' keys): (collection name, records), in insert order."""
    dataset = DataSet(customers=sizes["customers"], interactions=sizes["interactions"])
    staff = dataset.staff()
    staff.append(StaffUser(id=ADMIN_ID, telegram_id=int(ADMIN_ID), name="Ada", role=Role.ADMIN,
                           created_at=NOW - SPAN, updated_at=NOW - SPAN))
    customers = list(dataset.customer_records())
    keys = [(c.id, c.owner_id, c.phones) for c in customers]
    rnd = random.Random(dataset.seed + 4)
    interactions = [
        dataclasses.replace(i, deleted=True) if rnd.random() < 0.01 else i
        for i in dataset.interaction_records(keys)
    ]
    purchases, feedback, reminders = purchases_feedback_reminders(sizes, keys, dataset.seed)
    return [("staff", staff), ("customers", customers), ("interactions", interactions),
            ("purchases", purchases), ("feedback", feedback), ("reminders", reminders)]


async def populate(store: Store, sizes: dict[str, int], *, batch: int = 10_000) -> None:
    """The data set of ``sizes`` into an open store (generated in a worker thread), ``batch``
    records a write."""
    for name, records in await asyncio.to_thread(records_of, sizes):
        for chunk in batched(records, batch):
            await store.collection(name).insert_many(chunk)
            await asyncio.sleep(0)


async def build(size: str, where: Path) -> None:
    """The store of ``size`` in ``where`` (kept: building L takes minutes)."""
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    started = time.perf_counter()
    store = TinyDBStore(where / "crm", fsync=False, compact_on_close=True)
    await store.open()
    await populate(store, SIZES[size])
    await store.close()
    (where / "built").write_text(size)
    log(f"{size} built in {time.perf_counter() - started:.0f} s")


# -- the baseline: the load this branch replaced -----------------------------------------------


async def legacy_load(
    service: ReportService, actor: StaffUser, scope: ReportScope, *, yielding: bool = False
) -> dict[str, Any]:
    """The old ``ReportService.report`` load: every record of the scope's customers, decoded
    on the loop (whole collections from 300 customers on, per-customer look-ups below).

    ``yielding`` (for tests, whose loop guard this would trip): the same records in the same
    order, read per customer with the loop getting a turn between look-ups.
    """
    store = service.store
    visible = await service.customers.all_visible(actor, archived=None)
    customers = [c for c in visible if scope.owner is None or c.owner_id == scope.owner.id]
    ids = {c.id for c in customers}
    whole = len(ids) >= WHOLE_COLLECTION_FROM

    async def per_customer(collection: Any, where: dict[str, Any]) -> list[list[Any]]:
        found = []
        for n, customer_id in enumerate(sorted(ids)):
            found.append(await collection.find({**where, "customer_id": customer_id}))
            if yielding and n % 20 == 19:
                await asyncio.sleep(0)
        return found

    async def by_customer(collection: Any, where: dict[str, Any]) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        if whole:
            if yielding:  # what the whole-collection read gives: by id
                records = sorted((r for group in await per_customer(collection, where) for r in group),
                                 key=lambda r: r.id)
            else:
                records = await collection.find(dict(where))
            for record in records:
                if record.customer_id in ids:
                    grouped[record.customer_id].append(record)
        else:
            for found in await per_customer(collection, where):
                if found:
                    grouped[found[0].customer_id] = found
        return grouped

    return {
        "customers": customers,
        "interactions": await by_customer(store.interactions, {"deleted": False}),
        "purchases": await by_customer(store.purchases, {}),
        "feedback": await by_customer(store.feedback, {"deleted": False}),
    }


def legacy_compute(
    loaded: dict[str, Any], reminders: list[Reminder], staff: list[StaffUser], owner_id: str | None,
    period: Period, now: datetime, rules: ChurnRules, settings: ReportSettings,
) -> Report:
    """The old ``_compute``: the churn score over each customer's whole history, then the figures."""
    local_now = now.astimezone(period.tz or UTC)
    interactions, purchases, feedback = loaded["interactions"], loaded["purchases"], loaded["feedback"]
    at_risk = []
    for customer in loaded["customers"]:
        if customer.archived:
            continue
        assessment = churn.score(customer, purchases.get(customer.id, ()), interactions.get(customer.id, ()),
                                 feedback.get(customer.id, ()), local_now, rules)
        if assessment.at_risk:
            at_risk.append(AtRiskInput(customer.id, assessment.score, tuple(assessment.reasons)))

    def own(groups: dict[str, list[Any]]) -> list[Any]:
        return [r for group in groups.values() for r in group if owner_id is None or r.owner_id == owner_id]

    data = ReportData(staff=staff, customers=loaded["customers"], purchases=own(purchases),
                      interactions=own(interactions), feedback=own(feedback),
                      follow_up_reminders=reminders, at_risk=at_risk)
    return compute_report(data, period, now, settings)


async def legacy_report(
    service: ReportService, actor: StaffUser, kind: str, *, yielding: bool = False
) -> Report:
    """The figures the old path gave (no snapshot: movement is left out on both sides)."""
    scope = await service.scope(actor)
    now = service.clock.now()
    period = service.period(kind, now=now)
    previous = period.previous()
    loaded = await legacy_load(service, actor, scope, yielding=yielding)
    ids = {c.id for c in loaded["customers"]}
    reminders = [
        r for r in await service.store.reminders.find(
            {"kind": ReminderKind.FOLLOW_UP.value}, within=Range("due_at", previous.start, period.end))
        if r.customer_id in ids and (scope.owner is None or r.recipient_id == scope.owner.id)
    ]
    staff = await service._staff_in_scope(actor, scope)
    staff = await service._with_names_of_others(
        staff, scope, loaded["customers"],
        *(r for key in ("interactions", "purchases", "feedback") for r in loaded[key].values()))
    return await asyncio.to_thread(
        legacy_compute, loaded, reminders, staff, scope.owner.id if scope.owner else None,
        period, now, service.churn_rules, service.settings)


async def new_report(service: ReportService, actor: StaffUser, kind: str) -> Report:
    """The same figures through the new load (no snapshot either)."""
    scope = await service.scope(actor)
    now = service.clock.now()
    period = service.period(kind, now=now)
    inputs = await service.load(actor, scope, period, now)
    return await asyncio.to_thread(_compute, inputs, snapshot=None, period=period, now=now,
                                   rules=service.churn_rules, settings=service.settings)


# -- measuring -----------------------------------------------------------------------------------


class LoopWatch:
    """A heartbeat (every 5 ms) and a /help-like probe (every 20 ms, a trivial coroutine).

    ``worst`` is the heartbeat's worst lateness in wall-clock time (what a user would
    wait; on a shared machine it includes the time the OS gives other processes);
    ``worst_cpu`` the most CPU the loop thread spent between two beats (what this
    process's own work blocked the loop for, as the tests' watchdog counts it).
    """

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self.latencies: list[float] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, cpu = loop.time() + 0.005, time.thread_time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - due)
            self.worst_cpu = max(self.worst_cpu, time.thread_time() - cpu)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + 0.02
            await asyncio.sleep(0.02)
            await asyncio.sleep(0)  # the "answer": one more turn of the loop
            self.latencies.append(loop.time() - due)

    async def __aenter__(self) -> Self:
        self._tasks = [asyncio.create_task(self._beat()), asyncio.create_task(self._probe())]
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies) or [0.0]
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclasses.dataclass
class Run:
    figures: float
    figures_cpu: float  # the process's CPU time (loop and workers): the wall time on an idle machine
    chart: float
    workbook: float
    worst_block: float  # while the figures are computed
    worst_cpu: float
    files_block: float  # while the chart and the workbook are made
    help_p50: float
    help_p95: float
    help_max: float


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = await call()
    return time.perf_counter() - started, value


async def measure_new(service: ReportService, actor: StaffUser) -> Run:
    cpu = time.process_time()
    async with LoopWatch() as watch:
        figures, result = await timed(lambda: service.report(actor, "last_month"))
    cpu = time.process_time() - cpu
    async with LoopWatch() as files:
        chart, _png = await timed(lambda: service.chart(result))
        workbook, _xlsx = await timed(lambda: service.report_workbook(actor, result))
    return Run(figures, cpu, chart, workbook, watch.worst, watch.worst_cpu, files.worst,
               watch.p(0.5), watch.p(0.95), max(watch.latencies or [0]))


async def measure_legacy(service: ReportService, actor: StaffUser) -> Run:
    cpu = time.process_time()
    async with LoopWatch() as watch:
        figures, _report = await timed(lambda: legacy_report(service, actor, "last_month"))
    return Run(figures, time.process_time() - cpu, 0.0, 0.0, watch.worst, watch.worst_cpu, 0.0,
               watch.p(0.5), watch.p(0.95), max(watch.latencies or [0]))


def median_run(runs: list[Run]) -> Run:
    return Run(*(statistics.median(getattr(r, f.name) for r in runs) for f in dataclasses.fields(Run)))


def chart_in_process(report: Report, runs: int) -> tuple[float, float]:
    """The chart drawn in a child process instead (first call: start + imports; then steady)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bot.services.reports import _draw_chart

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        started = time.perf_counter()
        pool.submit(_draw_chart, report, "zh", "all", "").result()
        first = time.perf_counter() - started
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            pool.submit(_draw_chart, report, "zh", "all", "").result()
            samples.append(time.perf_counter() - started)
    return first, statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def run(args: argparse.Namespace) -> int:
    if args.gc_off:
        gc.disable()
    data = Path(args.data) / args.size
    if not (data / "built").exists():
        log(f"building size {args.size} into {data} (once) …")
        await build(args.size, data)
    work = Path(args.data) / f"{args.size}-run"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(data / "crm", work)
    store = TinyDBStore(work, fsync=False)
    started = time.perf_counter()
    await store.open()
    log(f"opened in {time.perf_counter() - started:.1f} s")
    services = Services(load_config(None, environ={}, search=False), store, SimulatedClock(NOW))
    service = services.reports
    header = (
        f"size {args.size} ({', '.join(f'{v:,} {k}' for k, v in SIZES[args.size].items())}); "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at start; median of {args.runs} runs"
        + ("; garbage collector OFF (diagnostic)" if args.gc_off else "")
    )
    lines = [
        header,
        "",
        ("| who | path | figures: wall (CPU) | chart | workbook | worst loop block: wall (loop-thread CPU) "
        "| /help p50 / p95 / max | worst block during chart + workbook |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts: list[str] = []
    firsts: list[str] = []
    first_chart = None
    for who, label in ((MANAGER_ID, "manager (team-0)"), (ADMIN_ID, "admin (everything)")):
        actor = await store.staff.get(who)
        assert actor is not None
        cpu = time.process_time()
        first_figures, first_report = await timed(lambda a=actor: new_report(service, a, "last_month"))
        firsts.append(f"- {label}: the first report after the store was opened (it also learns the last "
                      f"contacts it looks up, `bot/services/last_contacts.py`): {ms(first_figures)} "
                      f"({ms(time.process_time() - cpu)} CPU)")
        same = first_report == await legacy_report(service, actor, "last_month")
        if not same:
            log(f"{label}: the new load gives other figures than the old one!")
            return 1
        runs = []
        for k in range(args.runs + 1):
            measured = await measure_new(service, actor)
            if k == 0 and first_chart is None:
                first_chart = measured.chart  # matplotlib imported (lazily) in this one
            if k:
                runs.append(measured)
        new = median_run(runs)
        old = median_run([await measure_legacy(service, actor) for _ in range(max(1, args.baseline_runs))])
        for path, r in (("new", new), ("old (baseline)", old)):
            extra = (f"{ms(r.chart)} | {ms(r.workbook)}" if path == "new" else "– | –")
            files = ms(r.files_block) if path == "new" else "–"
            lines.append(f"| {label} | {path} | {ms(r.figures)} ({ms(r.figures_cpu)}) | {extra} | {ms(r.worst_block)} "
                         f"({ms(r.worst_cpu)}) | {ms(r.help_p50)} / {ms(r.help_p95)} / {ms(r.help_max)} | {files} |")
        lines.append(f"| {label} | ratio old/new | {old.figures / new.figures:.1f}× "
                     f"({old.figures_cpu / new.figures_cpu:.1f}×) | | | "
                     f"{old.worst_block / max(new.worst_block, 1e-6):.0f}× "
                     f"({old.worst_cpu / max(new.worst_cpu, 1e-6):.0f}×) | "
                     f"max {old.help_max / max(new.help_max, 1e-6):.0f}× | |")
        verdicts.append(
            f"- {label}: figures ≤ 2 s: **{verdict(new.figures <= 2)}** ({ms(new.figures)} wall; "
            f"{ms(new.figures_cpu)} of CPU: {verdict(new.figures_cpu <= 2)} on an idle machine); "
            f"chart + workbook ≤ 1 s: **{verdict(new.chart + new.workbook <= 1)}** "
            f"({ms(new.chart + new.workbook)}); loop never blocked > 50 ms: "
            f"**{verdict(new.worst_block <= 0.05)}** ({ms(new.worst_block)} wall; by the loop thread's own CPU "
            f"{verdict(new.worst_cpu <= 0.05)}, {ms(new.worst_cpu)}); "
            f"/help p95 ≤ 50 ms: "
            f"**{verdict(new.help_p95 <= 0.05)}** ({ms(new.help_p95)})"
        )
    lines += ["", "The figures of the new load equal the old load's (checked in this run).", *verdicts, *firsts]
    if first_chart is not None:
        lines.append(f"- the first chart of the process, matplotlib imported lazily in the worker: {ms(first_chart)}")
    if args.process_chart:
        actor = await store.staff.get(ADMIN_ID)
        assert actor is not None
        result = await service.report(actor, "last_month")
        first, steady = chart_in_process(result.report, args.runs)
        lines.append(f"- the same chart in a child process (spawn): first {ms(first)}, then {ms(steady)}")
    await store.close()
    shutil.rmtree(work)
    lines.append(f"- load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared)")
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=1)
    parser.add_argument("--data", default="/tmp/crm-bench-reports")
    parser.add_argument("--gc-off", action="store_true",
                        help="diagnostic: the cyclic garbage collector off, to tell its pauses from the rest")
    parser.add_argument("--process-chart", action="store_true", help="also time the chart in a child process")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
