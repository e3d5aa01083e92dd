"""ReportService on a small team whose figures are worked out by hand below.

The business time zone is Asia/Shanghai; "now" is Wednesday 2026-03-04 12:00 there,
so "this week" is 2–8 March and the week before 23 February – 1 March.

Team east: manager Mia, reps Ann, Bo and Dan (Dan does nothing).  Team west: manager
Wes and rep Cy, whose records must never reach an east report.

==========  =====  =========================================================
record      owner  what
==========  =====  =========================================================
c1          Ann    created 2 Mar 10:00 (new this week)
c2          Ann    created 1 Sep 2025, tier high, never contacted; two open
                   complaints from December → at risk: no contact for 184
                   days (usual 14) 40 points + 2 open complaints 30 = 70
c3          Bo     created 24 Feb (new the week before)
c4          Cy     west, created 3 Mar
c5          Ann    archived, created 3 Mar (never counts)
i1          Ann    call with c1, 2 Mar 11:00, follow-up due 3 Mar 10:00
i2          Ann    visit to c1, 3 Mar 15:00 (the follow-up, on time)
i3          Bo     call with c3, 25 Feb (the week before)
i4          Cy     call with c4, 3 Mar (west)
i5          Ann    message to c2, 4 Mar, deleted (never counts)
p1          Ann    c1, ¥1,000 on 3 Mar
p2          Bo     c3, ¥500 on 26 Feb (the week before)
p3          Cy     c4, ¥9,999 on 3 Mar (west)
f1          Bo     complaint about c3, open, 3 Mar
==========  =====  =========================================================

CLV (docs/clv.md; one purchase each, observed days raised to 365):
c1 1,000 × 365 × 3 ÷ 365 = 3,000; c3 500 × 3 = 1,500; team average 2,250.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import SimulatedClock
from bot.config import Config, load_config
from bot.domain.models import (
    Customer,
    Feedback,
    FeedbackKind,
    Interaction,
    InteractionKind,
    Purchase,
    ReminderKind,
    ReminderStatus,
    Role,
    StaffUser,
    ValueTier,
)
from bot.i18n import gettext_for
from bot.labels import churn_reasons
from bot.services import Services
from bot.services.customers import ListFilter
from bot.services.errors import AccessDenied
from storage.tinydb_store.store import TinyDBStore

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=SH)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    config: Config = load_config(None, environ={}, search=False)
    store = TinyDBStore(tmp_path / "data")
    await store.open()
    clock = SimulatedClock(NOW)
    services = Services(config, store, clock)
    await populate(services)
    try:
        yield services
    finally:
        await store.close()


STAFF = [
    ("admin", "Ada", Role.ADMIN, []),
    ("mia", "Mia", Role.MANAGER, ["east"]),
    ("ann", "Ann", Role.REP, ["east"]),
    ("bo", "Bo", Role.REP, ["east"]),
    ("dan", "Dan", Role.REP, ["east"]),
    ("wes", "Wes", Role.MANAGER, ["west"]),
    ("cy", "Cy", Role.REP, ["west"]),
]


async def populate(svc: Services) -> None:
    store, now = svc.store, NOW.astimezone(UTC)
    for index, (sid, name, role, teams) in enumerate(STAFF):
        await store.staff.insert(StaffUser(id=sid, telegram_id=9000 + index, name=name, role=role,
                                           teams=teams, language="en", created_at=now, updated_at=now))

    def customer(cid: str, owner: str, team: str, created: datetime, **fields: object) -> Customer:
        return Customer(id=cid, name=cid.upper(), owner_id=owner, team=team, created_at=created,
                        updated_at=created, **fields)

    for record in (
        customer("c1", "ann", "east", at(2026, 3, 2, 10, 0)),
        customer("c2", "ann", "east", at(2025, 9, 1, 10, 0), value_tier=ValueTier.HIGH),
        customer("c3", "bo", "east", at(2026, 2, 24, 10, 0)),
        customer("c4", "cy", "west", at(2026, 3, 3, 10, 0)),
        customer("c5", "ann", "east", at(2026, 3, 3, 10, 0), archived=True),
    ):
        await store.customers.insert(record)

    def call(iid: str, cid: str, owner: str, kind: InteractionKind, when: datetime,
             **fields: object) -> Interaction:
        return Interaction(id=iid, customer_id=cid, owner_id=owner, kind=kind, occurred_at=when,
                           created_at=when, updated_at=when, **fields)

    for record in (
        call("i1", "c1", "ann", InteractionKind.CALL, at(2026, 3, 2, 11, 0),
             next_follow_up_at=at(2026, 3, 3, 10, 0)),
        call("i2", "c1", "ann", InteractionKind.VISIT, at(2026, 3, 3, 15, 0)),
        call("i3", "c3", "bo", InteractionKind.CALL, at(2026, 2, 25, 10, 0)),
        call("i4", "c4", "cy", InteractionKind.CALL, at(2026, 3, 3, 10, 0)),
        call("i5", "c2", "ann", InteractionKind.MESSAGE, at(2026, 3, 4, 9, 0), deleted=True),
    ):
        await store.interactions.insert(record)

    for pid, cid, owner, amount, day in (
        ("p1", "c1", "ann", "1000", date(2026, 3, 3)),
        ("p2", "c3", "bo", "500", date(2026, 2, 26)),
        ("p3", "c4", "cy", "9999", date(2026, 3, 3)),
    ):
        await store.purchases.insert(Purchase(id=pid, customer_id=cid, owner_id=owner, product="tea",
                                              amount=Decimal(amount), currency="CNY", purchased_on=day,
                                              created_at=now, updated_at=now))

    for fid, cid, owner, created in (
        ("f1", "c3", "bo", at(2026, 3, 3, 10, 0)),
        ("f2", "c2", "ann", at(2025, 12, 1, 10, 0)),
        ("f3", "c2", "ann", at(2025, 12, 2, 10, 0)),
    ):
        await store.feedback.insert(Feedback(id=fid, customer_id=cid, owner_id=owner,
                                             kind=FeedbackKind.COMPLAINT, content="late delivery",
                                             created_at=created, updated_at=created))


async def staff(svc: Services, sid: str) -> StaffUser:
    user = await svc.store.staff.get(sid)
    assert user is not None
    return user


def figures(result: object) -> dict[str, object]:
    report = result.report  # type: ignore[attr-defined]
    return {c.key: (c.current, c.previous) for c in report.comparisons}


async def test_a_managers_week_counts_their_team_and_nothing_else(svc: Services) -> None:
    result = await svc.reports.report(await staff(svc, "mia"), "this_week")
    report = result.report
    assert (report.period.first_day, report.period.last_day) == (date(2026, 3, 2), date(2026, 3, 8))
    assert result.scope.kind == "team" and result.scope.key == "team:east"
    got = figures(result)
    assert got["new_customers"] == (1, 1)  # c1 | c3 (c5 is archived, c4 is west)
    assert got["interactions"] == (2, 1)  # i1, i2 | i3 (i4 is west, i5 deleted)
    assert got["purchases"] == (1, 1)
    assert got["revenue:CNY"] == (Decimal(1000), Decimal(500))  # not p3's 9,999
    assert got["complaints"] == (1, 0)  # f1 (f2, f3 are from December)
    assert got["follow_ups_due"] == (1, 0) and got["follow_ups_on_time"] == (1, 0)
    assert got["follow_up_on_time_rate"] == (1.0, None)
    assert got["active_reps"] == (2, 1)  # Ann and Bo (f1) | Bo
    assert dict(report.interactions_by_kind) == {"call": 1, "visit": 1, "meeting": 0, "message": 0,
                                                 "email": 0, "wechat": 0}
    rows = {r.rep_id: (r.interactions, r.new_customers, r.purchases, r.feedback) for r in report.reps}
    assert rows == {"ann": (2, 1, 1, 0), "bo": (0, 0, 0, 1), "dan": (0, 0, 0, 0)}
    assert [r.name for r in report.inactive_reps] == ["Dan"]
    assert dict(report.tiers) == {"high": 1, "mid": 0, "low": 0, "none": 2}  # c1, c2, c3
    assert [(r.customer_id, r.score, churn_reasons(r.reasons, gettext_for("en"))) for r in report.at_risk] == [
        ("c2", 70, ["no contact for 184 days, usual every 14", "2 open complaints"]),
    ]  # the report carries reason codes; bot.labels renders them in the reader's language
    assert dict(report.clv.average) == {"CNY": Decimal("2250.00")}
    assert result.customers == 3
    assert report.tier_movement is None  # no earlier snapshot


async def test_an_admin_sees_every_team(svc: Services) -> None:
    result = await svc.reports.report(await staff(svc, "admin"), "this_week")
    got = figures(result)
    assert result.scope.kind == "all"
    assert got["new_customers"] == (2, 1)  # c1, c4
    assert got["interactions"] == (3, 1)
    assert got["revenue:CNY"] == (Decimal(10999), Decimal(500))
    assert result.customers == 4


async def test_one_rep_scope_counts_only_their_activity(svc: Services) -> None:
    mia, ann = await staff(svc, "mia"), await staff(svc, "ann")
    by_manager = await svc.reports.report(mia, "this_week", scope_owner_id="ann")
    by_herself = await svc.reports.report(ann, "this_week")
    for result in (by_manager, by_herself):
        got = figures(result)
        assert result.scope.key == "rep:ann"
        assert got["interactions"] == (2, 0)
        assert got["new_customers"] == (1, 0)
        assert got["revenue:CNY"] == (Decimal(1000), Decimal(0))
        assert got["complaints"] == (0, 0)  # f1 is Bo's
        assert [r.rep_id for r in result.report.reps] == ["ann"]
        assert dict(result.report.clv.average) == {"CNY": Decimal("3000.00")}
        assert [r.customer_id for r in result.report.at_risk] == ["c2"]


async def test_scopes_beyond_what_the_actor_may_see_are_refused(svc: Services) -> None:
    ann, mia = await staff(svc, "ann"), await staff(svc, "mia")
    with pytest.raises(AccessDenied):
        await svc.reports.report(ann, "this_week", scope_owner_id="bo")  # a colleague
    with pytest.raises(AccessDenied):
        await svc.reports.report(mia, "this_week", scope_owner_id="cy")  # another team
    with pytest.raises(AccessDenied):
        await svc.reports.report(mia, "this_week", scope_owner_id="wes")  # another manager
    with pytest.raises(AccessDenied):
        await svc.reports.report(mia, "this_week", scope_owner_id="nobody")
    admin = await staff(svc, "admin")
    assert (await svc.reports.report(admin, "this_week", scope_owner_id="cy")).scope.key == "rep:cy"
    assert [u.id for u in await svc.reports.scope_choices(mia)] == ["ann", "bo", "dan"]
    assert await svc.reports.scope_choices(ann) == []


async def test_periods_last_month_and_custom(svc: Services) -> None:
    mia = await staff(svc, "mia")
    february = await svc.reports.report(mia, "last_month")
    assert february.report.period.label() == "2026-02-01 – 2026-02-28"
    assert figures(february)["new_customers"] == (1, 0)  # c3 on 24 Feb
    assert figures(february)["revenue:CNY"] == (Decimal(500), Decimal(0))
    custom = await svc.reports.report(mia, "custom", start=date(2026, 2, 25), end=date(2026, 3, 2))
    assert custom.report.period.label() == "2026-02-25 – 2026-03-02"
    assert figures(custom)["interactions"] == (2, 0)  # i3 (25 Feb), i1 (2 Mar)
    today = await svc.reports.report(mia, "today")
    assert today.report.period.label() == "2026-03-04"
    with pytest.raises(ValueError):
        svc.reports.period("custom", start=date(2025, 1, 1), end=date(2026, 3, 1))


async def test_tier_movement_against_the_previous_days_snapshot(svc: Services) -> None:
    mia = await staff(svc, "mia")
    await svc.reports.report(mia, "this_week")
    again = await svc.reports.report(mia, "this_week")
    assert again.report.tier_movement is None  # same day: nothing earlier to compare with
    c1 = await svc.store.customers.get("c1")
    await svc.store.customers.update(dataclasses.replace(c1, value_tier_override=ValueTier.MID))
    svc.clock.advance(timedelta(days=1))
    moved = await svc.reports.report(mia, "this_week")
    assert moved.report.tier_movement == {"high": 0, "mid": 1, "low": 0, "none": -1}
    assert moved.snapshot_at is not None and moved.snapshot_at.astimezone(SH).date() == date(2026, 3, 4)
    record = await svc.store.kv.get("reports:snapshot:team:east")
    assert sorted(record.value["days"]) == ["2026-03-04", "2026-03-05"]


async def test_exports_are_audited_and_follow_the_list_filters(svc: Services) -> None:
    mia = await staff(svc, "mia")
    result = await svc.reports.report(mia, "this_week")
    workbook = await svc.reports.report_workbook(mia, result)
    assert workbook[:2] == b"PK"
    data, count = await svc.reports.customer_export(mia, ListFilter(), "csv")
    assert count == 3 and data.startswith(b"\xef\xbb\xbf")
    _data, count = await svc.reports.customer_export(mia, ListFilter(), "xlsx", scope_owner_id="bo")
    assert count == 1
    _data, count = await svc.reports.customer_export(mia, ListFilter(tier="high"), "csv")
    assert count == 1
    events = await svc.store.audit.find({"action": "export"})
    assert sorted((e.actor_id, e.entity_type, e.entity_id) for e in events) == [
        ("mia", "customers", "rep:bo"),
        ("mia", "customers", "team:east"),
        ("mia", "customers", "team:east"),
        ("mia", "report", "team:east"),
    ]
    assert min(e.note for e in events if e.entity_type == "customers").startswith("csv, 1 customers")
    with pytest.raises(AccessDenied):
        await svc.reports.customer_export(await staff(svc, "ann"), ListFilter(), "csv", scope_owner_id="bo")


async def test_scheduled_reports_once_at_the_local_hour(svc: Services) -> None:
    first = await svc.reports.generate_scheduled(svc.clock.now())
    reminders = await svc.store.reminders.find({"kind": ReminderKind.WEEKLY_REPORT.value})
    # Scheduled ahead for the next Monday 09:00, reporting 2–8 March; nothing stale on a fresh start.
    assert {r.recipient_id for r in reminders} == {"admin", "mia", "wes"}
    assert {r.due_at for r in reminders} == {at(2026, 3, 9, 9, 0)}
    assert {r.dedupe_key for r in reminders if r.recipient_id == "mia"} == {"weekly_report:mia:2026-W10"}
    assert reminders[0].payload["period"] == {"kind": "week", "dates": "2026-03-02"}
    monthly = await svc.store.reminders.find({"kind": ReminderKind.MONTHLY_REPORT.value})
    assert {r.due_at for r in monthly} == {at(2026, 4, 1, 9, 0)}
    assert {r.dedupe_key for r in monthly if r.recipient_id == "wes"} == {"monthly_report:wes:2026-03"}
    assert first == 6
    for _ in range(3):  # hourly runs change nothing
        svc.clock.advance(timedelta(hours=1))
        await svc.reports.generate_scheduled(svc.clock.now())
    assert await svc.store.reminders.count({"kind": ReminderKind.WEEKLY_REPORT.value}) == 3

    # A manager in another time zone gets it at 09:00 their time.
    wes = await staff(svc, "wes")
    await svc.store.staff.update(dataclasses.replace(wes, timezone="Europe/Berlin"))
    await svc.reports.generate_scheduled(svc.clock.now())
    moved = await svc.store.reminders.get_by("dedupe_key", "weekly_report:wes:2026-W10")
    assert moved.due_at == datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


async def test_a_report_due_during_downtime_is_caught_up_once(svc: Services) -> None:
    await svc.reports.generate_scheduled(svc.clock.now())  # the bot ran on Wednesday ...
    weekly = await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W10")
    await svc.store.reminders.update(dataclasses.replace(weekly, status=ReminderStatus.SENT))
    svc.clock.set(at(2026, 3, 17, 10, 0))  # ... was down from then until Tuesday after next
    await svc.reports.generate_scheduled(svc.clock.now())
    caught_up = await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W11")
    assert caught_up is not None and caught_up.due_at == at(2026, 3, 16, 9, 0)  # 25 hours late: sent
    assert (await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W10")).status \
        is ReminderStatus.SENT  # not sent again
    svc.clock.set(at(2026, 3, 27, 10, 0))  # down again, for four days
    await svc.reports.generate_scheduled(svc.clock.now())
    late = await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W12")  # due 23 Mar
    result = await svc.reports.scheduled_report(await staff(svc, "mia"), late, "en")
    assert result is not None and result.report.period.label() == "2026-03-16 – 2026-03-22"  # late, still sent
    assert (await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W13")).due_at \
        == at(2026, 3, 30, 9, 0)  # the next one, on time


async def test_the_pushed_report_is_computed_for_its_recipient(svc: Services) -> None:
    await svc.reports.generate_scheduled(svc.clock.now())
    svc.clock.set(at(2026, 3, 9, 9, 0))
    reminder = await svc.store.reminders.get_by("dedupe_key", "weekly_report:mia:2026-W10")
    result = await svc.reports.scheduled_report(await staff(svc, "mia"), reminder, "zh")
    assert result is not None and result.report.period.label() == "2026-03-02 – 2026-03-08"
    assert figures(result)["interactions"] == (2, 1)
    reasons = churn_reasons(result.report.at_risk[0].reasons, gettext_for(result.language))
    assert reasons[0].startswith("189 天未联系")  # rendered in the recipient's language
    assert await svc.reports.scheduled_report(await staff(svc, "ann"), reminder, "en") is None
