"""The storage contract: what every backend must do, checked against every backend.

Nothing here knows which backend it runs on (see ``conftest.BACKENDS``).
Query results are compared with ``storage_samples.reference_find``, a brute
force implementation over dataclasses, as well as with hand-written
expectations for the rules that matter most.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.models import (
    Customer,
    FeedbackStatus,
    Interaction,
    InteractionKind,
    KeyValue,
    Purchase,
    Reminder,
    ReminderKind,
    Role,
    StaffUser,
)
from storage import (
    SCHEMA,
    ConflictError,
    DuplicateError,
    NotFoundError,
    QueryError,
    Range,
    Store,
    StoreError,
    TinyDBStore,
    open_store,
)
from tests.storage.storage_backends import BACKENDS
from tests.storage.storage_samples import (
    CUSTOMER_IDS,
    OWNERS,
    PHONES,
    SAMPLES,
    T0,
    TAGS,
    list_fields,
    reference_find,
    sample,
    samples,
)

COLLECTIONS = sorted(SCHEMA)
CST = timezone(timedelta(hours=8))
NYC = timezone(timedelta(hours=-5))


async def fill(store: Store, collection: str, n: int = 24) -> list[Any]:
    records = samples(collection, n)
    for record in records:
        await store.collection(collection).insert(record)
    return records


async def everything(store: Store, collection: str) -> dict[str, Any]:
    return {r.id: r for r in await store.collection(collection).find()}


def ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


# -- the sample set itself --------------------------------------------------


def test_every_collection_has_samples() -> None:
    assert set(SAMPLES) == set(SCHEMA)
    for name in SCHEMA:
        assert isinstance(sample(name, 1), SCHEMA[name].record_type)


# -- insert / get ------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_insert_get_round_trips_every_field(store: Store, collection: str) -> None:
    records = await fill(store, collection, 12)
    for record in records:
        got = await store.collection(collection).get(record.id)
        assert got == record
        assert got is not record
        for field in dataclasses.fields(record):
            assert type(getattr(got, field.name)) is type(
                getattr(record, field.name)
            ) or isinstance(getattr(record, field.name), datetime), field.name


async def test_round_trip_of_special_types(store: Store) -> None:
    staff = sample("staff", 1)
    assert staff.quiet_hours == (22, 7)
    await store.staff.insert(staff)
    got = await store.staff.get(staff.id)
    assert got.quiet_hours == (22, 7) and isinstance(got.quiet_hours, tuple)
    assert isinstance(got.role, Role)

    purchase = dataclasses.replace(sample("purchases", 1), amount=Decimal("0.10"))
    await store.purchases.insert(purchase)
    got = await store.purchases.get(purchase.id)
    assert got.amount == Decimal("0.10") and str(got.amount) == "0.10"
    assert got.purchased_on == purchase.purchased_on and type(got.purchased_on) is date

    customer = sample("customers", 2)  # has a Birthday, handles, several None fields
    await store.customers.insert(customer)
    got = await store.customers.get(customer.id)
    assert got.birthday == customer.birthday and got.birthday is not None
    assert got.handles == customer.handles
    # datetimes come back as the same instant, timezone-aware
    assert got.created_at == customer.created_at and got.created_at.utcoffset() is not None

    kv = KeyValue(id="ns:k", namespace="ns", value={"a": [1, 2.5, None, "文字"], "b": {"c": True}})
    await store.kv.insert(kv)
    assert (await store.kv.get("ns:k")).value == kv.value


async def test_round_trip_of_check_in_locations(store: Store) -> None:
    """Visit check-in (issue 19): GeoPoints on interactions and customers keep floats, bools, instants."""
    visit = next(r for r in samples("interactions", 8) if r.check_in is not None and r.check_in.accuracy)
    await store.interactions.insert(visit)
    got = await store.interactions.get(visit.id)
    assert got.check_in == visit.check_in and isinstance(got.check_in.latitude, float)
    assert isinstance(got.check_in.live, bool) and got.check_in.at.utcoffset() is not None
    assert got.check_in_distance_m == visit.check_in_distance_m and got.checked_out_at == visit.checked_out_at
    assert got.check_in_address == visit.check_in_address
    plain = dataclasses.replace(visit, id="i-plain", check_in=None, check_in_address=None,
                                check_in_distance_m=None, checked_out_at=None)
    await store.interactions.insert(plain)
    assert (await store.interactions.get("i-plain")).check_in is None
    customer = next(r for r in samples("customers", 8) if r.location is not None)
    await store.customers.insert(customer)
    assert (await store.customers.get(customer.id)).location == customer.location
    updated = dataclasses.replace(customer, location=None)
    await store.customers.update(updated)
    assert (await store.customers.get(customer.id)).location is None


async def test_a_sound_store_reports_no_damage(store: Store) -> None:
    assert store.damage == ()  # every backend has the damage report; a sound store's is empty


@pytest.mark.loop_blocking("the first SQL store of a session builds its SQLAlchemy tables on the loop (~0.4 s, once)")
@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_get_missing_is_none(store: Store, collection: str) -> None:
    assert await store.collection(collection).get("nope") is None


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_insert_returns_the_record_unchanged(store: Store, collection: str) -> None:
    record = sample(collection, 3)
    before = dataclasses.replace(record)
    returned = await store.collection(collection).insert(record)
    assert returned == before
    assert record == before


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_duplicate_id(store: Store, collection: str) -> None:
    record = sample(collection, 1)
    await store.collection(collection).insert(record)
    clone = dataclasses.replace(sample(collection, 2), id=record.id)
    if collection == "kv":
        clone = dataclasses.replace(clone, namespace=record.namespace)
    with pytest.raises(DuplicateError):
        await store.collection(collection).insert(clone)
    assert await store.collection(collection).get(record.id) == record
    assert await store.collection(collection).count() == 1


@pytest.mark.parametrize(
    ("collection", "field"),
    [(name, field) for name, spec in sorted(SCHEMA.items()) for field in spec.unique],
)
async def test_unique_fields(store: Store, collection: str, field: str) -> None:
    coll = store.collection(collection)
    first, second = sample(collection, 1), sample(collection, 2)
    await coll.insert(first)
    clash = dataclasses.replace(second, **{field: getattr(first, field)})
    with pytest.raises(DuplicateError):
        await coll.insert(clash)
    with pytest.raises(DuplicateError):
        await coll.insert_many(
            [second, dataclasses.replace(sample(collection, 3), **{field: getattr(second, field)})]
        )
    assert await coll.count() == 1  # insert_many is all or nothing
    await coll.insert(second)
    with pytest.raises(DuplicateError):
        await coll.update(dataclasses.replace(second, **{field: getattr(first, field)}))
    # releasing a value makes it available again
    assert await coll.delete(first.id)
    moved = await coll.update(dataclasses.replace(second, **{field: getattr(first, field)}))
    assert await coll.get_by(field, getattr(first, field)) == moved


async def test_get_by(store: Store) -> None:
    reminders = await fill(store, "reminders", 5)
    assert await store.reminders.get_by("dedupe_key", reminders[3].dedupe_key) == reminders[3]
    assert await store.reminders.get_by("dedupe_key", "missing") is None
    staff = await fill(store, "staff", 3)
    assert await store.staff.get_by("telegram_id", staff[1].telegram_id) == staff[1]
    with pytest.raises(QueryError):
        await store.reminders.get_by("recipient_id", OWNERS[0])


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_insert_many(store: Store, collection: str) -> None:
    coll = store.collection(collection)
    records = samples(collection, 30)
    await coll.insert_many(records)
    assert await everything(store, collection) == {r.id: r for r in records}
    await coll.insert_many([])
    with pytest.raises(DuplicateError):  # a repeated id inside the batch
        await coll.insert_many([sample(collection, 40), sample(collection, 40)])
    with pytest.raises(DuplicateError):  # an id already stored
        await coll.insert_many([sample(collection, 41), records[0]])
    assert await coll.count() == 30


async def test_wrong_record_type_is_refused(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.customers.insert(sample("interactions", 1))  # type: ignore[arg-type]


# -- update --------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_update_bumps_version_only(store: Store, collection: str) -> None:
    coll = store.collection(collection)
    record = sample(collection, 4)
    await coll.insert(record)
    changed = dataclasses.replace(record, updated_at=record.updated_at)  # a copy the caller edits
    new = await coll.update(changed)
    assert new.version == record.version + 1
    assert changed.version == record.version  # the argument is not mutated
    assert new.updated_at == record.updated_at  # updated_at is the caller's business
    assert await coll.get(record.id) == new
    newer = await coll.update(new)
    assert newer.version == record.version + 2


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_update_conflict_and_not_found(store: Store, collection: str) -> None:
    coll = store.collection(collection)
    record = sample(collection, 5)
    await coll.insert(record)
    await coll.update(record)
    with pytest.raises(ConflictError):
        await coll.update(record)  # still names version 0
    with pytest.raises(NotFoundError):
        await coll.update(sample(collection, 6))
    assert (await coll.get(record.id)).version == record.version + 1


async def test_concurrent_updates_exactly_one_wins(store: Store) -> None:
    reminder = sample("reminders", 1)
    await store.reminders.insert(reminder)
    claims = [dataclasses.replace(reminder, attempts=n) for n in range(10)]
    results = await asyncio.gather(
        *(store.reminders.update(c) for c in claims), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Reminder)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, Reminder))
    assert await store.reminders.get(reminder.id) == winners[0]


# -- update_with: the read-modify-write helper -----------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_update_with_changes_the_current_record(store: Store, collection: str) -> None:
    coll = store.collection(collection)
    record = sample(collection, 7)
    await coll.insert(record)
    before, after = await coll.update_with(
        record.id, lambda r: dataclasses.replace(r, updated_at=T0 + timedelta(days=9)))
    assert before == record
    assert after.version == record.version + 1
    assert after.updated_at == T0 + timedelta(days=9)
    assert await coll.get(record.id) == after


async def test_update_with_none_writes_nothing(store: Store) -> None:
    customer = sample("customers", 1)
    await store.customers.insert(customer)
    before, after = await store.customers.update_with(customer.id, lambda c: None)
    assert before == after == customer
    assert (await store.customers.get(customer.id)).version == customer.version


async def test_update_with_retries_on_a_fresh_copy_after_a_conflict(store: Store) -> None:
    customer = sample("customers", 2)
    await store.customers.insert(customer)
    seen: list[int] = []

    async def rename(current: Customer) -> Customer:
        seen.append(current.version)
        if len(seen) == 1:  # somebody else writes between our read and our write
            await store.customers.update(dataclasses.replace(current, name="Other writer"))
        return dataclasses.replace(current, tags=[*current.tags, "mine"])

    before, after = await store.customers.update_with(customer.id, rename)
    assert seen == [customer.version, customer.version + 1]
    assert before.name == "Other writer"
    assert after.name == "Other writer" and "mine" in after.tags  # neither change is lost
    assert after.version == customer.version + 2


async def test_update_with_gives_up_and_propagates_refusals(store: Store) -> None:
    customer = sample("customers", 3)
    await store.customers.insert(customer)

    async def always_raced(current: Customer) -> Customer:
        await store.customers.update(current)  # bumps the version under us every time
        return dataclasses.replace(current, name="never stored")

    with pytest.raises(ConflictError):
        await store.customers.update_with(customer.id, always_raced, attempts=3)
    assert (await store.customers.get(customer.id)).version == customer.version + 3

    def refuse(current: Customer) -> Customer:
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        await store.customers.update_with(customer.id, refuse)
    with pytest.raises(NotFoundError):
        await store.customers.update_with("no-such-id", lambda c: c)


async def test_concurrent_update_with_loses_no_increment(store: Store) -> None:
    reminder = sample("reminders", 2)
    await store.reminders.insert(reminder)

    def bump(current: Reminder) -> Reminder:
        return dataclasses.replace(current, attempts=current.attempts + 1)

    await asyncio.gather(*(store.reminders.update_with(reminder.id, bump, attempts=20)
                           for _ in range(4)))
    assert (await store.reminders.get(reminder.id)).attempts == reminder.attempts + 4


# -- kv.put: the upsert of one key -------------------------------------------------


async def test_kv_put_creates_then_replaces(store: Store, reopen: Any) -> None:
    first = await store.kv.put("scheduler:bookmark", "2026-01-01", namespace="scheduler", now=T0)
    assert (first.namespace, first.value, first.created_at) == ("scheduler", "2026-01-01", T0)
    later = T0 + timedelta(hours=1)
    second = await store.kv.put("scheduler:bookmark", {"day": "2026-01-02"}, namespace="scheduler",
                                now=later)
    assert second.value == {"day": "2026-01-02"} and second.version == first.version + 1
    assert (second.created_at, second.updated_at) == (T0, later)
    same = await store.kv.put("scheduler:bookmark", {"day": "2026-01-02"}, namespace="scheduler",
                              now=later + timedelta(hours=1))
    assert same == second  # an unchanged value is not rewritten
    store = await reopen(store)
    assert (await store.kv.get("scheduler:bookmark")).value == {"day": "2026-01-02"}
    assert ids(await store.kv.find({"namespace": "scheduler"})) == ["scheduler:bookmark"]


async def test_concurrent_kv_puts_all_succeed(store: Store) -> None:
    results = await asyncio.gather(
        *(store.kv.put("race:key", n, namespace="race", now=T0) for n in range(5)))
    assert len(results) == 5
    assert (await store.kv.get("race:key")).value in range(5)


async def test_update_moves_record_between_index_values(store: Store) -> None:
    customers = await fill(store, "customers", 12)
    target = customers[2]  # two phones, owner rep-c
    assert len(target.phones) == 2
    old_phone = target.phones[0]
    edited = dataclasses.replace(
        target, owner_id="rep-z", phones=["+8613700000009"], tags=["new-tag"], team=None,
        next_follow_up_at=T0 + timedelta(days=400), archived=True,
    )  # fmt: skip
    await store.customers.update(edited)
    assert target.id not in ids(await store.customers.find({"owner_id": target.owner_id}))
    assert ids(await store.customers.find({"owner_id": "rep-z"})) == [target.id]
    assert target.id not in ids(await store.customers.find({"phones": old_phone}))
    assert ids(await store.customers.find({"phones": "+8613700000009"})) == [target.id]
    assert ids(await store.customers.find({"tags": "new-tag"})) == [target.id]
    late = Range("next_follow_up_at", T0 + timedelta(days=399))
    assert ids(await store.customers.find(within=late)) == [target.id]


async def test_update_of_partition_key_survives_reopen(store: Store, reopen: Any) -> None:
    interactions = await fill(store, "interactions", 20)
    moved = dataclasses.replace(interactions[0], customer_id="cust-new")
    moved = await store.interactions.update(moved)
    store = await reopen(store)
    assert await store.interactions.get(moved.id) == moved
    assert ids(await store.interactions.find({"customer_id": "cust-new"})) == [moved.id]
    assert moved.id not in ids(
        await store.interactions.find({"customer_id": interactions[0].customer_id})
    )


# -- delete --------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_delete(store: Store, collection: str, reopen: Any) -> None:
    coll = store.collection(collection)
    records = await fill(store, collection, 10)
    victim = records[4]
    assert await coll.delete(victim.id) is True
    assert await coll.delete(victim.id) is False
    assert await coll.get(victim.id) is None
    assert await coll.count() == 9
    for field in SCHEMA[collection].indexed:
        value = getattr(victim, field)
        probe = value[0] if isinstance(value, list) and value else value
        if isinstance(probe, list):
            continue
        assert victim.id not in ids(await coll.find({field: probe}))
    store = await reopen(store)
    assert await store.collection(collection).get(victim.id) is None
    assert await store.collection(collection).count() == 9
    await store.collection(collection).insert(victim)  # the id is free again
    assert await store.collection(collection).get(victim.id) == victim


# -- find: equality --------------------------------------------------------------


def probe_values(records: list[Any], collection: str, field: str) -> list[Any]:
    values: list[Any] = []
    for record in records:
        value = getattr(record, field)
        if field in list_fields(collection):
            values.extend(value)
        else:
            values.append(value)
    unique = []
    for value in values:
        if value not in unique:
            unique.append(value)
    return unique


@pytest.mark.parametrize(
    ("collection", "field"),
    [(name, field) for name, spec in sorted(SCHEMA.items()) for field in spec.indexed],
)
async def test_find_by_each_indexed_field(store: Store, collection: str, field: str) -> None:
    records = await fill(store, collection, 24)
    coll = store.collection(collection)
    values = probe_values(records, collection, field)
    assert values, f"the samples give {collection}.{field} no values"
    for value in values:
        expected = reference_find(records, collection, {field: value})
        assert expected, (field, value)
        assert ids(await coll.find({field: value})) == ids(expected), (field, value)
        assert await coll.count({field: value}) == len(expected)
    missing = -1 if isinstance(values[0], int) else "no-such-value"
    assert await coll.find({field: missing}) == []
    assert await coll.count({field: missing}) == 0


async def test_list_valued_fields_match_membership(store: Store) -> None:
    customers = await fill(store, "customers", 24)
    for phone in PHONES:
        expected = [c.id for c in customers if phone in c.phones]
        assert expected
        assert ids(await store.customers.find({"phones": phone})) == expected
    for tag in TAGS:
        expected = [c.id for c in customers if tag in c.tags]
        assert ids(await store.customers.find({"tags": tag})) == expected
    staff = await fill(store, "staff", 9)
    assert ids(await store.staff.find({"teams": "west"})) == [
        s.id for s in staff if "west" in s.teams
    ]
    with pytest.raises(QueryError):
        await store.customers.find({"tags": ["vip", "tea"]})


async def test_equality_on_none_enums_bools_and_several_fields(store: Store) -> None:
    customers = await fill(store, "customers", 24)
    assert ids(await store.customers.find({"team": None})) == [
        c.id for c in customers if c.team is None
    ]
    assert ids(await store.customers.find({"archived": True})) == [
        c.id for c in customers if c.archived
    ]
    both = {"owner_id": "rep-a", "archived": False, "tags": "vip"}
    assert ids(await store.customers.find(both)) == ids(
        reference_find(customers, "customers", both)
    )
    assert await store.customers.count(both) == len(reference_find(customers, "customers", both))
    feedback = await fill(store, "feedback", 12)
    got = await store.feedback.find({"status": FeedbackStatus.OPEN})
    assert ids(got) == [f.id for f in feedback if f.status is FeedbackStatus.OPEN]
    assert ids(await store.feedback.find({"status": "open"})) == ids(got)  # by value works too
    assert ids(await store.customers.find({"id": customers[3].id})) == [customers[3].id]
    assert await store.customers.find({"id": "missing"}) == []


async def test_find_returns_copies(store: Store) -> None:
    customers = await fill(store, "customers", 3)
    found = (await store.customers.find({"id": customers[2].id}))[0]
    found.tags.append("mutated")
    found.name = "mutated"
    assert await store.customers.get(customers[2].id) == customers[2]


async def test_returned_records_share_nothing_with_the_store(store: Store) -> None:
    reminder = sample("reminders", 1)
    audit = dataclasses.replace(sample("audit", 1), changes={"tags": [["a"], ["a", "b"]]})
    kv = dataclasses.replace(sample("kv", 1), value={"deep": {"list": [1, 2]}})
    await store.reminders.insert(reminder)
    await store.audit.insert(audit)
    await store.kv.insert(kv)
    got = await store.reminders.get(reminder.id)
    got.payload["nested"]["list"].append("mutated")
    got_audit = await store.audit.get(audit.id)
    got_audit.changes["tags"][0].append("mutated")
    got_kv = (await store.kv.find({"namespace": kv.namespace}))[0]
    got_kv.value["deep"]["list"].append("mutated")
    assert await store.reminders.get(reminder.id) == reminder
    assert await store.audit.get(audit.id) == audit
    assert await store.kv.get(kv.id) == kv


# -- find: ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "field"),
    [(name, field) for name, spec in sorted(SCHEMA.items()) for field in spec.ranged],
)
async def test_ranges_on_each_ranged_field(store: Store, collection: str, field: str) -> None:
    records = await fill(store, collection, 24)
    coll = store.collection(collection)
    values = sorted({getattr(r, field) for r in records if getattr(r, field) is not None})
    assert len(values) >= 3, f"the samples give {collection}.{field} too few values"
    low, mid, high = values[1], values[len(values) // 2], values[-2]
    for start, end in [
        (low, high),
        (None, mid),
        (mid, None),
        (None, None),
        (high, low),
        (mid, mid),
    ]:
        within = Range(field, start, end)
        expected = reference_find(records, collection, within=within, order_by=field)
        assert ids(await coll.find(within=within, order_by=field)) == ids(expected), (start, end)
        assert await coll.count(within=within) == len(expected)
    # start is inclusive, end exclusive
    assert mid in [getattr(r, field) for r in await coll.find(within=Range(field, mid, None))]
    assert mid not in [getattr(r, field) for r in await coll.find(within=Range(field, None, mid))]
    # nulls never match, not even an open range
    with_nulls = [r for r in records if getattr(r, field) is None]
    everything_in_range = ids(await coll.find(within=Range(field)))
    assert not set(everything_in_range) & {r.id for r in with_nulls}


async def test_range_bounds_in_other_time_zones(store: Store) -> None:
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    reminders = [
        dataclasses.replace(
            sample("reminders", i), due_at=(base + timedelta(minutes=i)).astimezone(tz)
        )
        for i, tz in zip(range(6), [CST, NYC, UTC, CST, NYC, CST], strict=True)
    ]
    for r in reminders:
        await store.reminders.insert(r)
    # 20:01 in UTC+8 is 12:01 UTC; 07:04 in UTC-5 is 12:04 UTC
    within = Range(
        "due_at", datetime(2024, 5, 1, 20, 1, tzinfo=CST), datetime(2024, 5, 1, 7, 4, tzinfo=NYC)
    )
    assert ids(await store.reminders.find(within=within, order_by="due_at")) == [
        r.id for r in reminders[1:4]
    ]
    # the same instant in two offsets is one point in time
    same = Range(
        "due_at", datetime(2024, 5, 1, 7, 2, tzinfo=NYC), datetime(2024, 5, 1, 20, 3, tzinfo=CST)
    )
    assert ids(await store.reminders.find(within=same)) == [reminders[2].id]
    # sub-second precision orders correctly against whole seconds
    exact = base + timedelta(minutes=2)
    assert ids(
        await store.reminders.find(within=Range("due_at", exact, exact + timedelta(microseconds=1)))
    ) == [reminders[2].id]
    assert (
        await store.reminders.count(within=Range("due_at", exact + timedelta(microseconds=1))) == 3
    )


async def test_range_bounds_must_fit_the_field(store: Store) -> None:
    await fill(store, "purchases", 10)
    got = await store.purchases.find(
        within=Range("purchased_on", date(2024, 1, 4), date(2024, 1, 13))
    )
    assert [p.purchased_on for p in got] == [date(2024, 1, 4), date(2024, 1, 7), date(2024, 1, 10)]
    with pytest.raises(QueryError):  # a date field takes dates
        await store.purchases.find(within=Range("purchased_on", T0))
    with pytest.raises(QueryError):  # a datetime field takes datetimes
        await store.purchases.find(within=Range("created_at", date(2024, 1, 1)))
    with pytest.raises(QueryError):  # and they must be timezone-aware
        await store.purchases.count(within=Range("created_at", datetime(2024, 1, 1)))


# -- find: order, nulls, paging ---------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "field"),
    [(name, field) for name, spec in sorted(SCHEMA.items()) for field in (*spec.ranged, "id")],
)
async def test_order_by_with_nulls_last(store: Store, collection: str, field: str) -> None:
    records = await fill(store, collection, 24)
    coll = store.collection(collection)
    for descending in (False, True):
        expected = reference_find(records, collection, order_by=field, descending=descending)
        got = await coll.find(order_by=field, descending=descending)
        assert ids(got) == ids(expected)
        values = [getattr(r, field) for r in got]
        present = [v for v in values if v is not None]
        assert values[: len(present)] == present  # nulls last, in either direction


async def test_default_order_is_by_id(store: Store) -> None:
    records = samples("interactions", 15)
    for record in reversed(records):
        await store.interactions.insert(record)
    assert ids(await store.interactions.find()) == sorted(r.id for r in records)
    assert ids(await store.interactions.find({"owner_id": "rep-b"})) == sorted(
        r.id for r in records if r.owner_id == "rep-b"
    )


async def test_ties_are_broken_by_id_in_the_same_direction(store: Store) -> None:
    when = datetime(2024, 6, 1, tzinfo=UTC)
    records = [
        dataclasses.replace(sample("reminders", i), due_at=when.astimezone(CST if i % 2 else NYC))
        for i in range(5)
    ]
    await store.reminders.insert_many(records)
    assert ids(await store.reminders.find(order_by="due_at")) == sorted(ids(records))
    assert ids(await store.reminders.find(order_by="due_at", descending=True)) == sorted(
        ids(records), reverse=True
    )


@pytest.mark.parametrize("descending", [False, True])
async def test_offset_limit_paging(store: Store, descending: bool) -> None:
    records = await fill(store, "customers", 40)
    for where, order_by in [
        (None, "next_follow_up_at"),
        ({"owner_id": "rep-b"}, "updated_at"),
        ({"archived": False}, "last_contact_at"),
        (None, "id"),
        ({"tags": "vip"}, None),
    ]:
        full = reference_find(records, "customers", where, order_by=order_by, descending=descending)
        pages = []
        for offset in range(0, len(full) + 7, 7):
            page = await store.customers.find(
                where, order_by=order_by, descending=descending, offset=offset, limit=7
            )
            assert len(page) <= 7
            pages.extend(page)
        assert ids(pages) == ids(full), (where, order_by)
    assert await store.customers.find(limit=0) == []
    assert await store.customers.find(offset=1000) == []
    assert ids(await store.customers.find(offset=38)) == sorted(ids(records))[38:]


@pytest.mark.loop_blocking("the test computes its reference answers over every sample on the loop")
async def test_where_within_and_order_together(store: Store) -> None:
    records = await fill(store, "interactions", 60)
    start, end = records[10].occurred_at, records[50].occurred_at
    for where in [None, {"owner_id": "rep-a"}, {"customer_id": "cust-2", "deleted": False}]:
        for order_by in ["occurred_at", "created_at", "next_follow_up_at", "id", None]:
            for descending in (False, True):
                for offset, limit in [(0, None), (0, 5), (3, 4), (100, 5)]:
                    kwargs = {
                        "within": Range("occurred_at", start, end), "order_by": order_by,
                        "descending": descending, "offset": offset, "limit": limit,
                    }  # fmt: skip
                    expected = reference_find(records, "interactions", where, **kwargs)
                    got = await store.interactions.find(where, **kwargs)
                    assert ids(got) == ids(expected), (where, kwargs)
            assert await store.interactions.count(
                where, within=Range("occurred_at", start, end)
            ) == len(
                reference_find(
                    records, "interactions", where, within=Range("occurred_at", start, end)
                )
            )


@pytest.mark.slow
@pytest.mark.loop_blocking("the test computes its 1,500-record reference answers on the loop itself")
async def test_large_collection_queries_match_the_reference(store: Store) -> None:
    """Enough records that the planner's walk and materialise strategies both get used."""
    records = []
    for i in range(1500):
        records.append(
            Interaction(
                id=f"x{i:05d}", customer_id=f"cust-{i % 300}", owner_id=f"rep-{i % 50}",
                kind=list(InteractionKind)[i % 6], occurred_at=T0 + timedelta(hours=(i * 7919) % 5000),
                next_follow_up_at=None if i % 4 else T0 + timedelta(hours=(i * 31) % 900),
                deleted=i % 97 == 0, created_at=T0 + timedelta(minutes=i),
            )
        )  # fmt: skip
    await store.interactions.insert_many(records)
    queries: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [
        ({"owner_id": "rep-7"}, {"order_by": "occurred_at", "descending": True, "limit": 20}),
        ({"deleted": False}, {"order_by": "occurred_at", "limit": 20, "offset": 40}),
        ({"deleted": True}, {"order_by": "created_at", "descending": True, "limit": 3}),
        ({"kind": "call", "deleted": False}, {"order_by": "next_follow_up_at", "limit": 400}),
        (None, {"order_by": "next_follow_up_at", "descending": True, "offset": 370, "limit": 10}),
        ({"customer_id": "cust-17"}, {"order_by": "occurred_at"}),
        (None, {"within": Range("occurred_at", T0 + timedelta(hours=100), T0 + timedelta(hours=400)), "order_by": "created_at", "limit": 10}),
        ({"kind": "visit"}, {"within": Range("created_at", T0, T0 + timedelta(hours=20)), "order_by": "occurred_at", "limit": 5}),
        ({"deleted": False}, {"within": Range("next_follow_up_at", T0 + timedelta(hours=10)), "order_by": "next_follow_up_at", "descending": True, "limit": 15}),
        ({"owner_id": "rep-3"}, {"order_by": "id", "descending": True, "limit": 4, "offset": 2}),
    ]  # fmt: skip
    for where, kwargs in queries:
        assert ids(await store.interactions.find(where, **kwargs)) == ids(
            reference_find(records, "interactions", where, **kwargs)
        ), (where, kwargs)


# -- query errors -------------------------------------------------------------------


@pytest.mark.parametrize("collection", COLLECTIONS)
async def test_unindexed_queries_are_refused(store: Store, collection: str) -> None:
    coll = store.collection(collection)
    spec = SCHEMA[collection]
    unindexed = next(
        f.name for f in dataclasses.fields(spec.record_type)
        if f.name not in spec.indexed and f.name not in spec.ranged and f.name != "id"
    )  # fmt: skip
    with pytest.raises(QueryError):
        await coll.find({unindexed: "x"})
    with pytest.raises(QueryError):
        await coll.count({unindexed: "x"})
    with pytest.raises(QueryError):
        await coll.find(within=Range(unindexed, T0))
    with pytest.raises(QueryError):
        await coll.count(within=Range("version", T0))
    with pytest.raises(QueryError):
        await coll.find(order_by=unindexed)
    with pytest.raises(QueryError):
        await coll.find(order_by="version")


# -- persistence -----------------------------------------------------------------------


async def test_everything_survives_reopen(store: Store, reopen: Any) -> None:
    expected: dict[str, dict[str, Any]] = {}
    for collection in COLLECTIONS:
        records = await fill(store, collection, 15)
        coll = store.collection(collection)
        updated = await coll.update(records[1])
        await coll.delete(records[2].id)
        expected[collection] = {r.id: r for r in records}
        expected[collection][updated.id] = updated
        del expected[collection][records[2].id]
    for _ in range(2):  # twice: the second open starts from what the first one left
        store = await reopen(store)
        for collection in COLLECTIONS:
            assert await everything(store, collection) == expected[collection], collection
            for field in SCHEMA[collection].indexed:  # and the indexes were rebuilt
                for value in probe_values(list(expected[collection].values()), collection, field)[
                    :3
                ]:
                    assert ids(await store.collection(collection).find({field: value})) == ids(
                        reference_find(expected[collection].values(), collection, {field: value})
                    )
    customers = list(expected["customers"].values())
    late = Range("next_follow_up_at", T0 + timedelta(days=2))
    assert ids(await store.customers.find(within=late, order_by="next_follow_up_at")) == ids(
        reference_find(customers, "customers", within=late, order_by="next_follow_up_at")
    )


async def test_writes_after_reopen_continue(store: Store, reopen: Any) -> None:
    first = await fill(store, "interactions", 5)
    store = await reopen(store)
    more = samples("interactions", 5, start=5)
    for record in more:
        await store.interactions.insert(record)
    again = await store.interactions.update(first[0])
    store = await reopen(store)
    assert await everything(store, "interactions") == {r.id: r for r in [again, *first[1:], *more]}


# -- the store object --------------------------------------------------------------------


async def test_store_lifecycle(make_store: Any) -> None:
    store = make_store()
    with pytest.raises(StoreError):
        await store.customers.get("x")
    async with store as opened:
        assert opened is store
        for name in SCHEMA:
            assert store.collection(name).spec is SCHEMA[name]
        with pytest.raises(KeyError):
            store.collection("nope")
        await store.customers.insert(sample("customers", 1))
    with pytest.raises(StoreError):
        await store.customers.get("x")
    async with make_store() as again:
        assert await again.customers.count() == 1


def test_open_store_factory(tmp_path: Path) -> None:
    store = open_store("tinydb", path=str(tmp_path / "d"))
    assert isinstance(store, TinyDBStore)
    assert not (tmp_path / "d").exists()  # not opened yet
    store = open_store("sql", url="sqlite:///" + str(tmp_path / "x.sqlite3"))
    assert type(store).__name__ == "SQLStore" and not (tmp_path / "x.sqlite3").exists()
    with pytest.raises(StoreError, match="needs a database URL"):
        open_store("sql", url="")
    with pytest.raises(StoreError, match="unknown storage backend"):
        open_store("mongo")
    with pytest.raises(StoreError, match="path"):
        open_store("tinydb")


# -- a random walk checked against a model -----------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(0, 40)),
        st.tuples(st.just("insert_many"), st.lists(st.integers(0, 40), max_size=4)),
        st.tuples(st.just("update"), st.integers(0, 40), st.booleans(), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 40)),
        st.tuples(st.just("reopen")),
    ),
    max_size=40,
)


def _customer(i: int, variant: int) -> Customer:
    base = sample("customers", i)
    return dataclasses.replace(
        base,
        owner_id=OWNERS[(i + variant) % 3],
        tags=list(TAGS[variant % 4 : variant % 4 + 2]),
        phones=[PHONES[(i + variant) % 4]],
        next_follow_up_at=None if variant % 3 == 0 else T0 + timedelta(hours=variant * 5 + i),
    )


def _interaction(i: int, variant: int) -> Interaction:
    return dataclasses.replace(
        sample("interactions", i), customer_id=CUSTOMER_IDS[(i + variant) % 4]
    )


@pytest.mark.parametrize("backend", ["tinydb-compacting", "tinydb-journal"], indirect=True)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, collection=st.sampled_from(["customers", "interactions"]))
async def test_random_operations_match_a_model(
    backend: str, ops: list[tuple[Any, ...]], collection: str
) -> None:
    build = _customer if collection == "customers" else _interaction
    directory = Path(tempfile.mkdtemp(prefix="crm-store-"))
    model: dict[str, Any] = {}
    store = BACKENDS[backend](directory)
    await store.open()
    try:
        coll = store.collection(collection)
        for op in ops:
            if op[0] == "insert":
                record = build(op[1], 0)
                if record.id in model:
                    with pytest.raises(DuplicateError):
                        await coll.insert(record)
                else:
                    await coll.insert(record)
                    model[record.id] = record
            elif op[0] == "insert_many":
                batch = [build(i, 1) for i in op[1]]
                batch_ids = [r.id for r in batch]
                if len(set(batch_ids)) < len(batch_ids) or set(batch_ids) & set(model):
                    with pytest.raises(DuplicateError):
                        await coll.insert_many(batch)
                else:
                    await coll.insert_many(batch)
                    model.update({r.id: r for r in batch})
            elif op[0] == "update":
                _, i, stale, variant = op
                current = model.get(build(i, 0).id)
                if current is None:
                    with pytest.raises(NotFoundError):
                        await coll.update(build(i, variant))
                    continue
                edited = dataclasses.replace(build(i, variant), version=current.version)
                if stale:
                    with pytest.raises(ConflictError):
                        await coll.update(dataclasses.replace(edited, version=current.version + 1))
                else:
                    model[current.id] = await coll.update(edited)
            elif op[0] == "delete":
                rid = build(op[1], 0).id
                assert await coll.delete(rid) is (model.pop(rid, None) is not None)
            else:
                await store.close()
                store = BACKENDS[backend](directory)
                await store.open()
                coll = store.collection(collection)
        await store.close()
        store = BACKENDS[backend](directory)
        await store.open()
        coll = store.collection(collection)
        assert await everything(store, collection) == model
        records = list(model.values())
        order_field = "next_follow_up_at"
        for where in [
            None,
            {"owner_id": OWNERS[0]},
            {"customer_id": CUSTOMER_IDS[1]},
            {"tags": TAGS[1]},
            {"phones": PHONES[2]},
        ]:
            if where and not set(where) <= set(SCHEMA[collection].indexed):
                continue
            for descending, limit in itertools.product((False, True), (None, 3)):
                kwargs = {"order_by": order_field, "descending": descending, "limit": limit}
                assert ids(await coll.find(where, **kwargs)) == ids(
                    reference_find(records, collection, where, **kwargs)
                )
            assert await coll.count(where) == len(reference_find(records, collection, where))
    finally:
        await store.close()
        shutil.rmtree(directory, ignore_errors=True)


async def test_staff_and_enum_values_as_where_keys(store: Store) -> None:
    staff = await fill(store, "staff", 9)
    admins = await store.staff.find({"role": Role.ADMIN, "active": True})
    assert ids(admins) == [s.id for s in staff if s.role is Role.ADMIN and s.active]
    reminders = await fill(store, "reminders", 20)
    due = await store.reminders.find({"kind": ReminderKind.BIRTHDAY}, order_by="due_at")
    assert ids(due) == ids(
        reference_find(reminders, "reminders", {"kind": ReminderKind.BIRTHDAY}, order_by="due_at")
    )
    assert isinstance(staff[0], StaffUser) and isinstance(reminders[0], Reminder)
    purchases = await fill(store, "purchases", 6)
    assert sum(
        (p.amount for p in await store.purchases.find({"customer_id": "cust-1"})), Decimal(0)
    ) == sum((p.amount for p in purchases if p.customer_id == "cust-1"), Decimal(0))
    assert isinstance(purchases[0], Purchase)


async def test_listeners_hear_each_committed_write_and_no_failed_one(store: Store) -> None:
    heard: list[tuple[str, str, int | None]] = []
    stop = store.listen(lambda name, rid, record: heard.append(
        (name, rid, None if record is None else record.version)))
    first, second, third = samples("customers", 3)
    await store.customers.insert(first)
    await store.customers.insert_many([second, third])
    updated = await store.customers.update(dataclasses.replace(first, name="Renamed"))
    with pytest.raises(ConflictError):
        await store.customers.update(first)  # stale: nothing committed, nothing heard
    with pytest.raises(DuplicateError):
        await store.customers.insert(second)
    assert await store.customers.delete(second.id)
    assert not await store.customers.delete("missing")
    await store.kv.put("k", 1, namespace="n", now=T0)
    assert heard == [
        ("customers", first.id, first.version), ("customers", second.id, second.version),
        ("customers", third.id, third.version), ("customers", first.id, updated.version),
        ("customers", second.id, None), ("kv", "k", 0),
    ]
    stop()
    await store.customers.delete(third.id)
    assert len(heard) == 6


async def test_a_listener_hears_a_write_whose_caller_was_cancelled(store: Store) -> None:
    heard: list[str] = []
    store.listen(lambda name, rid, record: heard.append(rid))
    customer = sample("customers", 0)
    task = asyncio.ensure_future(store.customers.insert(customer))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the write goes on without its caller; a later write is committed after it
    later = sample("customers", 1)
    await store.customers.insert(later)
    assert (await store.customers.get(customer.id)) is not None
    assert heard == [customer.id, later.id]


async def test_a_failing_listener_neither_fails_the_write_nor_silences_the_others(store: Store) -> None:
    heard: list[str] = []

    def broken(name: str, rid: str, record: object) -> None:
        raise RuntimeError("listener bug")

    store.listen(broken)
    store.listen(lambda name, rid, record: heard.append(rid))
    customer = sample("customers", 0)
    await store.customers.insert(customer)
    assert heard == [customer.id]
