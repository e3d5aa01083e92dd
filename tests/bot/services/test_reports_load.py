"""The ranged, sliced load gives the figures the whole-collection load gave (issue 15.2).

Generated data (``bench/services_reports.py``, the benchmark's generator at a small size):
400 customers over two years, 4 000 interactions (1 % deleted, a fifth setting a
follow-up a week on), 800 purchases, 300 feedback items and 150 follow-up reminders.
Each report is computed twice — from the old load (every record of the scope's
customers) and from the new one — and the two reports must be equal in every figure,
for an admin (the whole-collection path), a manager (the per-customer path) and one
rep, over several periods; and with unanswered calls not counting as contact; on the
TinyDB store and on SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bench.datagen import NOW
from bench.services_reports import ADMIN_ID, MANAGER_ID, legacy_report, new_report, populate
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Interaction, InteractionKind, Outcome
from bot.services import Services
from bot.services import reports as reports_service
from storage.base import Store
from storage.sql import SQLStore
from storage.tinydb_store.store import TinyDBStore

SIZES = {"customers": 400, "interactions": 4_000, "purchases": 800, "feedback": 300, "reminders": 150}
KINDS = ("last_month", "this_month", "this_week", "today", "last_week")


@pytest.fixture(params=["tinydb", "sqlite"])
async def svc(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Services]:
    store: Store = (TinyDBStore(tmp_path / "data", fsync=False) if request.param == "tinydb"
                    else SQLStore(f"sqlite:///{tmp_path / 'crm.sqlite3'}"))
    await store.open()
    services = Services(load_config(None, environ={}, search=False), store, SimulatedClock(NOW + timedelta(days=9)))
    await populate(store, SIZES, batch=200)
    customers = await store.customers.find(limit=3)
    later = NOW + timedelta(days=40)  # dated in the future: a follow-up may be done "later"
    for customer in customers:
        await store.interactions.insert(Interaction(
            customer_id=customer.id, owner_id=customer.owner_id, kind=InteractionKind.CALL,
            occurred_at=later, outcome=Outcome.NO_ANSWER, created_at=later, updated_at=later))
    try:
        yield services
    finally:
        await store.close()


def differences(new: object, old: object) -> list[str]:
    return [f.name for f in dataclasses.fields(new) if getattr(new, f.name) != getattr(old, f.name)]  # type: ignore[arg-type]


@pytest.mark.parametrize("who", [ADMIN_ID, MANAGER_ID, "700003"])
async def test_the_ranged_load_gives_the_figures_of_the_whole_load(svc: Services, who: str) -> None:
    actor = await svc.store.staff.get(who)
    assert actor is not None
    for kind in KINDS:
        new = await new_report(svc.reports, actor, kind)
        old = await legacy_report(svc.reports, actor, kind, yielding=True)
        assert new == old, (kind, differences(new, old))
    # the data set exercises what the load must get right
    month = await new_report(svc.reports, actor, "last_month")
    assert month.interactions and month.follow_ups.due and month.purchases and month.clv.estimates
    if who != "700003":
        assert month.at_risk and month.follow_ups.on_time and month.follow_ups.overdue


async def test_the_same_when_unanswered_calls_are_no_contact(svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = dataclasses.replace(svc.config.churn, unanswered_counts_as_contact=False)
    monkeypatch.setattr(reports_service.ReportService, "churn_rules", property(lambda self: rules))
    admin = await svc.store.staff.get(ADMIN_ID)
    assert admin is not None
    for kind in ("last_month", "this_week"):
        new = await new_report(svc.reports, admin, kind)
        assert new == await legacy_report(svc.reports, admin, kind, yielding=True), kind


async def test_a_long_custom_period_in_the_past(svc: Services) -> None:
    admin = await svc.store.staff.get(ADMIN_ID)
    assert admin is not None
    scope = await svc.reports.scope(admin)
    period = svc.reports.period("custom", start=date(2025, 3, 1), end=date(2025, 8, 31))
    now = svc.clock.now()
    inputs = await svc.reports.load(admin, scope, period, now)
    new = await asyncio.to_thread(reports_service._compute, inputs, snapshot=None, period=period, now=now,
                                  rules=svc.reports.churn_rules, settings=svc.reports.settings)
    # the legacy path names the period by kind; compare through the same call
    original = svc.reports.period

    def fixed(kind: str, **_kw: object) -> object:
        return period if kind == "custom" else original(kind, **_kw)  # type: ignore[arg-type]

    svc.reports.period = fixed  # type: ignore[method-assign]
    try:
        old = await legacy_report(svc.reports, admin, "custom", yielding=True)
    finally:
        del svc.reports.period
    assert new == old, differences(new, old)


def test_the_report_cache_is_bounded_and_keyed_by_data_version_and_age() -> None:
    cache = reports_service.ReportCache(size=2, seconds=600)
    now = NOW
    first, second, third = (object() for _ in range(3))  # stand-ins: the cache only keeps them
    cache.put(("ada", "all", "month", "2025-12-01"), (1, 2), now, first)  # type: ignore[arg-type]
    assert cache.get(("ada", "all", "month", "2025-12-01"), (1, 2), now + timedelta(seconds=30)) is first
    assert cache.get(("ada", "all", "month", "2025-12-01"), (1, 3), now) is None  # a record came since
    assert cache.get(("ada", "all", "month", "2025-12-01"), (1, 2), now + timedelta(minutes=11)) is None
    assert cache.get(("bo", "all", "month", "2025-12-01"), (1, 2), now) is None  # another actor
    cache.put(("ada", "all", "week", "2025-12-29"), (1, 2), now, second)  # type: ignore[arg-type]
    cache.get(("ada", "all", "month", "2025-12-01"), (1, 2), now)  # used: kept
    cache.put(("ada", "rep:x", "week", "2025-12-29"), (1, 2), now, third)  # type: ignore[arg-type]
    assert cache.get(("ada", "all", "week", "2025-12-29"), (1, 2), now) is None  # the least recently used went
    assert cache.get(("ada", "all", "month", "2025-12-01"), (1, 2), now) is first


def test_the_collector_pause_nests_and_restores_what_it_found() -> None:
    import gc

    assert gc.isenabled()
    with reports_service.collector_paused():
        with reports_service.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with reports_service.collector_paused():
            pass
        assert not gc.isenabled()  # somebody else had it off: it stays off
    finally:
        gc.enable()


def test_matplotlib_and_openpyxl_load_only_when_a_chart_or_workbook_is_made() -> None:
    import subprocess
    import sys

    code = ("import sys, handlers.reports, bot.services.reports; "
            "print('matplotlib' in sys.modules, 'openpyxl' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "False"]
