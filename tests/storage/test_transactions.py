"""``Store.transaction()``: several writes, all or nothing -- checked on every backend.

A transaction's reads see its own writes, nobody else sees them (nor does
any listener hear of them) before the commit, an exception applies none of
them, and a conflict aborts all of them.  Kill -9 in the middle of one is in
``test_transactions_crash.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

import pytest

from bot.domain.models import Customer, Reminder, ReminderKind
from storage import ConflictError, DuplicateError, NotFoundError, Range, Store, StoreError
from tests.storage.storage_samples import T0, reference_find, sample, samples


class Boom(Exception):
    pass


def ids(records: list[Any]) -> list[str]:
    return [r.id for r in records]


async def test_commit_applies_every_write_and_survives_reopen(store: Store, reopen: Any) -> None:
    first, second, third = samples("customers", 3)
    await store.customers.insert(third)
    interactions = samples("interactions", 4)
    async with store.transaction() as tx:
        await tx.customers.insert(first)
        await tx.customers.insert_many([second])
        renamed = await tx.customers.update(dataclasses.replace(third, name="Renamed"))
        await tx.interactions.insert_many(interactions)
        assert await tx.interactions.delete(interactions[0].id)
        await tx.audit.insert(sample("audit", 0))
    assert renamed.version == third.version + 1
    for reopened in (False, True):
        current = await reopen(store) if reopened else store
        assert sorted(ids(await current.customers.find())) == sorted([first.id, second.id, third.id])
        assert (await current.customers.get(third.id)) == renamed
        assert sorted(ids(await current.interactions.find())) == sorted(ids(interactions[1:]))
        assert await current.audit.count() == 1


async def test_an_exception_applies_nothing(store: Store, reopen: Any) -> None:
    kept = sample("customers", 0)
    await store.customers.insert(kept)
    heard: list[str] = []
    store.listen(lambda name, rid, record: heard.append(rid))
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.customers.insert(sample("customers", 1))
            await tx.customers.update(dataclasses.replace(kept, name="Changed"))
            await tx.interactions.insert(sample("interactions", 0))
            assert await tx.customers.delete(kept.id)
            raise Boom
    for reopened in (False, True):
        current = await reopen(store) if reopened else store
        assert ids(await current.customers.find()) == [kept.id]
        assert (await current.customers.get(kept.id)) == kept
        assert await current.interactions.count() == 0
    assert heard == []


async def test_a_conflict_aborts_the_whole_transaction(store: Store) -> None:
    customer, other = samples("customers", 2)
    await store.customers.insert(customer)
    stale = await store.customers.get(customer.id)
    assert stale is not None
    await store.customers.update(dataclasses.replace(stale, city="moved on"))
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.customers.insert(other)
            await tx.customers.update(dataclasses.replace(stale, name="from a stale copy"))
    assert await store.customers.get(other.id) is None
    # Catching the conflict inside does not save the rest: every later call and the end refuse.
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.customers.insert(other)
            with pytest.raises(ConflictError):
                await tx.customers.update(stale)
            with pytest.raises(ConflictError, match="aborted"):
                await tx.customers.get(other.id)
    assert await store.customers.get(other.id) is None
    assert (await store.customers.get(customer.id)).city == "moved on"  # type: ignore[union-attr]


async def test_a_failed_update_with_inside_propagates_the_conflict(store: Store) -> None:
    customer = sample("customers", 0)
    await store.customers.insert(customer)

    def rename(c: Customer) -> Customer:
        c.name = "Renamed"
        return c

    async with store.transaction() as tx:
        before, after = await tx.customers.update_with(customer.id, rename)
        await tx.kv.put("k", {"n": 1}, namespace="n", now=T0)
        await tx.kv.put("k", {"n": 2}, namespace="n", now=T0)
        assert (await tx.kv.get("k")).value == {"n": 2}  # type: ignore[union-attr]
    assert (before.name, after.name) == (customer.name, "Renamed")
    assert (await store.customers.get(customer.id)) == after
    assert (await store.kv.get("k")).value == {"n": 2}  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):  # a missing record does not abort the transaction
        async with store.transaction() as tx:
            await tx.customers.update_with("missing", rename)
    async with store.transaction() as tx:
        with pytest.raises(NotFoundError):
            await tx.customers.update(sample("customers", 5))
        await tx.customers.insert(sample("customers", 5))
    assert await store.customers.get(sample("customers", 5).id) is not None


async def test_reads_inside_see_the_transactions_own_writes(store: Store) -> None:
    """Inserts, updates (index values moving) and deletes, queried in many ways, against a model."""
    records = samples("customers", 40)
    await store.customers.insert_many(records[:30])
    model = {r.id: r for r in records[:30]}
    rnd = random.Random(7)
    async with store.transaction() as tx:
        for record in records[30:]:
            model[record.id] = await tx.customers.insert(record)
        for rid in rnd.sample(sorted(model), 12):
            changed = dataclasses.replace(
                model[rid], owner_id=rnd.choice(["rep-a", "rep-b", "rep-z"]),
                tags=rnd.choice([[], ["vip"], ["vip", "tea"]]), archived=rnd.random() < 0.3,
                next_follow_up_at=rnd.choice([None, T0, T0.replace(year=2030)]),
            )  # fmt: skip
            model[rid] = await tx.customers.update(changed)
        for rid in rnd.sample(sorted(model), 6):
            assert await tx.customers.delete(rid)
            del model[rid]
        expected = list(model.values())
        for where in [None, {"owner_id": "rep-a"}, {"tags": "vip"}, {"archived": False, "owner_id": "rep-b"}]:
            for order_by in [None, "next_follow_up_at", "updated_at"]:
                for descending in (False, True):
                    for offset, limit in [(0, None), (0, 5), (4, 7), (100, 3)]:
                        kwargs: dict[str, Any] = {"order_by": order_by, "descending": descending,
                                                  "offset": offset, "limit": limit}
                        got = await tx.customers.find(where, **kwargs)
                        want = reference_find(expected, "customers", where, **kwargs)
                        assert ids(got) == ids(want), (where, kwargs)
            assert await tx.customers.count(where) == len(reference_find(expected, "customers", where))
        window = Range("next_follow_up_at", T0, T0.replace(year=2031))
        assert await tx.customers.count(within=window) == len(
            reference_find(expected, "customers", None, within=window))
        assert ids(await tx.customers.find(within=window, order_by="next_follow_up_at")) == ids(
            reference_find(expected, "customers", None, within=window, order_by="next_follow_up_at"))
        for rid in (records[0].id, records[35].id):
            assert await tx.customers.get(rid) == model.get(rid)
    assert sorted(ids(await store.customers.find())) == sorted(model)


async def test_nothing_is_visible_outside_or_heard_before_the_commit(store: Store) -> None:
    existing = sample("customers", 0)
    await store.customers.insert(existing)
    new = sample("customers", 1)
    heard: list[tuple[str, str, int | None]] = []
    store.listen(lambda name, rid, record: heard.append(
        (name, rid, None if record is None else record.version)))
    async with store.transaction() as tx:
        await tx.customers.insert(new)
        await tx.customers.update(dataclasses.replace(existing, name="Inside"))
        await tx.interactions.insert(sample("interactions", 0))
        assert await store.customers.get(new.id) is None
        assert (await store.customers.get(existing.id)).name == existing.name  # type: ignore[union-attr]
        assert await store.customers.count() == 1
        assert await store.interactions.find() == []
        assert heard == []
    assert (await store.customers.get(existing.id)).name == "Inside"  # type: ignore[union-attr]
    assert sorted(heard) == sorted([
        ("customers", new.id, 0), ("customers", existing.id, existing.version + 1),
        ("interactions", sample("interactions", 0).id, 0),
    ])
    heard.clear()
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.customers.delete(new.id)
            raise Boom
    assert heard == []


async def test_listeners_hear_each_record_once_with_its_final_state(store: Store) -> None:
    heard: list[tuple[str, str, Any]] = []
    store.listen(lambda name, rid, record: heard.append((name, rid, record)))
    first, second = samples("customers", 2)
    async with store.transaction() as tx:
        await tx.customers.insert(first)
        final = await tx.customers.update(dataclasses.replace(first, name="Final"))
        await tx.customers.insert(second)
        await tx.customers.delete(second.id)  # inserted and deleted again: nothing changed
    # (the SQL backend may tell of the record inserted and deleted again as deleted)
    assert [h for h in heard if h != ("customers", second.id, None)] == [("customers", first.id, final)]


async def test_unique_fields_and_ids_hold_inside(store: Store) -> None:
    taken = Reminder(id="r-taken", kind=ReminderKind.FOLLOW_UP, recipient_id="rep-a",
                     due_at=T0, dedupe_key="key-1")
    await store.reminders.insert(taken)
    with pytest.raises(DuplicateError):
        async with store.transaction() as tx:
            await tx.customers.insert(sample("customers", 0))
            await tx.reminders.insert(dataclasses.replace(taken, id="r-other"))
    with pytest.raises(DuplicateError):
        async with store.transaction() as tx:
            await tx.reminders.insert(dataclasses.replace(taken, id="r-a", dedupe_key="key-2"))
            await tx.reminders.insert(dataclasses.replace(taken, id="r-b", dedupe_key="key-2"))
    with pytest.raises(DuplicateError):
        async with store.transaction() as tx:
            await tx.customers.insert(sample("customers", 0))
            await tx.customers.insert(sample("customers", 0))
    assert await store.customers.count() == 0
    assert ids(await store.reminders.find()) == ["r-taken"]
    # a value freed inside the transaction may be taken inside it
    async with store.transaction() as tx:
        await tx.reminders.update(dataclasses.replace(taken, dedupe_key="key-moved"))
        await tx.reminders.insert(dataclasses.replace(taken, id="r-new"))
        assert ids(await tx.reminders.find({"dedupe_key": "key-1"})) == ["r-new"]
    assert (await store.reminders.get_by("dedupe_key", "key-1")).id == "r-new"  # type: ignore[union-attr]
    assert (await store.reminders.get_by("dedupe_key", "key-moved")).id == "r-taken"  # type: ignore[union-attr]


async def test_partition_key_moves_inside_survive_reopen(store: Store, reopen: Any) -> None:
    interaction = sample("interactions", 0)
    await store.interactions.insert(interaction)
    async with store.transaction() as tx:
        moved = await tx.interactions.update(dataclasses.replace(interaction, customer_id="cust-moved"))
    store = await reopen(store)
    assert (await store.interactions.get(interaction.id)) == moved
    assert ids(await store.interactions.find({"customer_id": "cust-moved"})) == [interaction.id]


async def test_a_cancelled_transaction_applies_nothing(store: Store) -> None:
    started = asyncio.Event()

    async def body() -> None:
        async with store.transaction() as tx:
            await tx.customers.insert(sample("customers", 0))
            started.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(body())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.customers.count() == 0
    async with store.transaction() as tx:  # the store is usable (SQLite: the write lock is free)
        await tx.customers.insert(sample("customers", 1))
    await store.customers.insert(sample("customers", 2))
    assert await store.customers.count() == 2


async def test_transactions_do_not_nest_and_end_for_good(store: Store) -> None:
    async with store.transaction() as tx:
        with pytest.raises(StoreError, match="do not nest"):
            async with store.transaction():
                pass
        await tx.customers.insert(sample("customers", 0))
    with pytest.raises(StoreError, match="over"):
        await tx.customers.insert(sample("customers", 1))
    with pytest.raises(StoreError, match="over"):
        await tx.customers.find()
    async with store.transaction() as tx:  # a write past the transaction would not be part of it
        await tx.customers.insert(sample("customers", 3))
        with pytest.raises(StoreError, match="write through it"):
            await store.customers.insert(sample("customers", 2))
        with pytest.raises(StoreError, match="write through it"):
            await store.kv.put("k", 1, namespace="n", now=T0)
    assert await store.customers.get(sample("customers", 2).id) is None
    await store.customers.delete(sample("customers", 3).id)
    async with store.transaction() as empty:  # a transaction that writes nothing
        assert await empty.customers.count() == 1


async def test_transactions_run_one_after_another_from_many_tasks(store: Store) -> None:
    """Concurrent transactions each moving two records: every one all or nothing."""
    await store.customers.insert_many(samples("customers", 6))

    async def move(n: int) -> None:
        for _attempt in range(20):
            try:
                async with store.transaction() as tx:
                    a, b = await tx.customers.get(f"c{n % 6:04d}"), await tx.customers.get(f"c{(n + 1) % 6:04d}")
                    assert a is not None and b is not None
                    await tx.customers.update(dataclasses.replace(a, notes=f"{a.notes or ''}[+{n}]"))
                    await tx.customers.update(dataclasses.replace(b, notes=f"{b.notes or ''}[-{n}]"))
                return
            except ConflictError:
                await asyncio.sleep(0)
        raise AssertionError(f"transaction {n} kept conflicting")

    await asyncio.gather(*(move(n) for n in range(12)))
    notes = "".join(c.notes or "" for c in await store.customers.find())
    for n in range(12):
        assert notes.count(f"[+{n}]") == 1 and notes.count(f"[-{n}]") == 1, n


async def test_in_memory_sqlite_readers_wait_for_the_transaction() -> None:
    """One connection for everything: other readers wait for the end; a read past ``tx`` is refused."""
    from storage.sql import SQLStore

    async with SQLStore("sqlite://") as store:
        inside = asyncio.Event()
        release = asyncio.Event()

        async def transaction() -> None:
            async with store.transaction() as tx:
                await tx.customers.insert(sample("customers", 0))
                with pytest.raises(StoreError, match="read through it"):
                    await store.customers.count()
                inside.set()
                await release.wait()

        task = asyncio.ensure_future(transaction())
        await inside.wait()
        reader = asyncio.ensure_future(store.customers.count())  # would fail inside the BEGIN
        for _turn in range(5):
            await asyncio.sleep(0)
        assert not reader.done()
        release.set()
        await task
        assert await reader == 1
