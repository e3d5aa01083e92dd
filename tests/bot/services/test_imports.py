"""ImportService: preview counts, duplicates (file and store), merge, roles, resume after a crash."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, Role, StaffUser
from bot.services import Services, imports
from bot.services.errors import AccessDenied, Invalid
from bot.services.imports import record_id, rejected_csv
from storage import TinyDBStore
from storage.base import Store

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ADMIN = StaffUser(id="a1", telegram_id=4, name="Admin", role=Role.ADMIN)
MANAGER = StaffUser(id="m1", telegram_id=3, name="Mei", role=Role.MANAGER, teams=["east"])
REP = StaffUser(id="r1", telegram_id=1, name="Rita", role=Role.REP, teams=["east"])
WEST = StaffUser(id="r2", telegram_id=2, name="Wu", role=Role.REP, teams=["west"])

CSV = (
    "客户名单 2026,,,,,\n"
    "姓名,手机,公司,生日,产品,金额\n"
    "张伟,138 0013 8000,腾讯,1990/5/3,茶叶,1999元\n"
    "李娜,+86 139-0013-9000,阿里,农历三月初五,,\n"
    ",,,,,\n"
    "王五,123,,,,\n"
    "张伟,13800138000,腾讯,,,\n"
    "赵六,13700137000,百度,32996,,\n"
    "老客户,13600136000,,,,\n"
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    try:
        for person in (ADMIN, MANAGER, REP, WEST):
            await store.staff.insert(person)
        yield store
    finally:
        await store.close()


@pytest.fixture
def svc(store: Store) -> Services:
    return Services(load_config(None, environ={}, search=False), store, SimulatedClock(NOW))


async def existing(store: Store) -> Customer:
    return await store.customers.insert(Customer(id="old1", name="Old Friend", owner_id=REP.id, team="east",
                                                 phones=["+8613600136000"], created_at=NOW, updated_at=NOW))


async def test_preview_counts_new_duplicates_and_invalid_rows_with_reasons(svc: Services, store: Store) -> None:
    await existing(store)
    preview = await svc.imports.start(MANAGER, "客户.csv", CSV.encode("gbk"), source={"test": 1})
    assert preview.encoding == "GB18030" and preview.header_line == 2
    assert [c.target for c in preview.columns] == [
        "name", "phones", "company", "birthday", "purchase.product", "purchase.amount"]
    assert (preview.rows, preview.new, preview.invalid, preview.duplicates_file, preview.duplicates_store,
            preview.blank) == (6, 3, 1, 1, 1, 1)
    assert [(column, code) for column, code, _p, _n in preview.reasons] == [("phones", "phone.too_short")]
    first = preview.samples[0]
    assert first["name"] == "张伟" and first["phones"] == ["+8613800138000"]
    assert first["purchase"]["amount"] == "1999.00" and first["purchase"]["product"] == "茶叶"
    assert await store.customers.count() == 1, "a preview writes no customer"


async def test_commit_creates_customers_with_purchases_and_a_rejected_file(svc: Services, store: Store) -> None:
    preview = await svc.imports.start(MANAGER, "c.csv", CSV.encode("utf-8"), source={})
    await svc.imports.set_owner(MANAGER, preview.job_id, REP.id)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    summary = await svc.imports.commit(MANAGER, preview.job_id, progress=progress)
    assert (summary.created, summary.invalid, summary.skipped) == (4, 1, 1)
    assert seen[-1] == (4, 4)
    zhang = await store.customers.get(record_id(preview.job_id, 2))
    assert zhang is not None and zhang.owner_id == REP.id and zhang.team == "east"
    assert zhang.birthday is not None and (zhang.birthday.year, zhang.birthday.month) == (1990, 5)
    zhao = await store.customers.get(record_id(preview.job_id, 7))
    assert zhao is not None and zhao.birthday is not None and zhao.birthday.day == 3, "an Excel serial date"
    assert len(await store.purchases.find({"customer_id": zhang.id})) == 1
    events = await store.audit.find({"action": "import"})
    assert {e.entity_type for e in events} == {"customer", "import"}
    data = rejected_csv(summary, "Import problem", lambda column, code, params: code)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][-1] == "Import problem"
    assert [r[0] for r in rows[1:]] == ["王五", "张伟"]
    assert rows[1][-1] == "phone.too_short" and rows[2][-1] == "import.duplicate_in_file"
    again = await svc.imports.commit(MANAGER, preview.job_id)
    assert again.already_done and await store.customers.count() == 4
    with pytest.raises(Invalid):  # a finished import is not "cancelled"
        await svc.imports.cancel(MANAGER, preview.job_id)


async def test_merge_fills_only_the_empty_fields_of_an_existing_customer(svc: Services, store: Store) -> None:
    await existing(store)
    data = "Name,Phone,Company,Email\nOld Friend Renamed,13600136000,ACME,old@example.com\n"
    preview = await svc.imports.start(ADMIN, "m.csv", data.encode(), source={})
    assert preview.duplicates_store == 1
    await svc.imports.set_owner(ADMIN, preview.job_id, REP.id)
    await svc.imports.set_policy(ADMIN, preview.job_id, "merge")
    summary = await svc.imports.commit(ADMIN, preview.job_id)
    assert (summary.created, summary.merged) == (0, 1)
    old = await store.customers.get("old1")
    assert old is not None and old.name == "Old Friend" and old.company == "ACME" and old.email == "old@example.com"


async def test_skip_leaves_an_existing_customer_alone(svc: Services, store: Store) -> None:
    await existing(store)
    preview = await svc.imports.start(ADMIN, "m.csv", b"Name,Phone,Company\nX,13600136000,ACME\n", source={})
    await svc.imports.set_owner(ADMIN, preview.job_id, REP.id)
    summary = await svc.imports.commit(ADMIN, preview.job_id)
    assert (summary.created, summary.merged, summary.skipped) == (0, 0, 1)
    old = await store.customers.get("old1")
    assert old is not None and old.company is None


async def test_a_rep_may_not_import_and_is_told_the_role(svc: Services) -> None:
    with pytest.raises(AccessDenied) as denied:
        await svc.imports.start(REP, "c.csv", CSV.encode(), source={})
    assert denied.value.params.get("needs") == Role.MANAGER


async def test_a_manager_imports_for_their_team_only(svc: Services) -> None:
    owners = await svc.imports.owner_choices(MANAGER)
    assert {o.id for o in owners} == {MANAGER.id, REP.id}
    preview = await svc.imports.start(MANAGER, "c.csv", CSV.encode(), source={})
    with pytest.raises(AccessDenied):
        await svc.imports.set_owner(MANAGER, preview.job_id, WEST.id)
    with pytest.raises(AccessDenied):  # another manager's job is not theirs
        await svc.imports.preview(ADMIN, preview.job_id)


async def test_a_crash_in_the_middle_resumes_without_duplicates(
    svc: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    rows = "\n".join(f"Customer {i},1380013{i:04d}" for i in range(9))
    data = f"Name,Phone\n{rows}\n".encode()
    preview = await svc.imports.start(ADMIN, "big.csv", data, source={})
    await svc.imports.set_owner(ADMIN, preview.job_id, REP.id)
    batches = 0
    real = svc.imports._write_rest

    async def crash_in_the_third(*args: object) -> object:
        nonlocal batches
        batches += 1
        if batches == 3:  # inside the third batch's transaction, after its inserts
            raise RuntimeError("power cut")
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(svc.imports, "_write_rest", crash_in_the_third)
    with pytest.raises(RuntimeError):
        await svc.imports.commit(ADMIN, preview.job_id)
    assert await store.customers.count() == 4, "the third batch is not there at all"
    assert await store.purchases.count() == 0 and await store.audit.count({"action": "import"}) == 4
    unfinished = await svc.imports.unfinished()
    assert [job_id for job_id, _job in unfinished] == [preview.job_id]
    assert unfinished[0][1]["done"] == 4, "the job's progress committed with its rows"
    fresh = Services(svc.config, store, svc.clock)  # a restarted bot: nothing in memory
    summary = await fresh.imports.commit(ADMIN, preview.job_id, data=data)
    assert summary.created == 9 and await store.customers.count() == 9
    assert len({c.name for c in await store.customers.find()}) == 9
    assert await fresh.imports.unfinished() == []


async def test_an_unfinished_import_can_be_rolled_back(
    svc: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH", 2)
    data = b"Name,Phone\n" + b"\n".join(f"C{i},1380013{i:04d}".encode() for i in range(6)) + b"\n"
    preview = await svc.imports.start(ADMIN, "x.csv", data, source={})
    await svc.imports.set_owner(ADMIN, preview.job_id, REP.id)
    real = svc.imports._write_rest
    calls = 0

    async def crash(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("kill -9")
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(svc.imports, "_write_rest", crash)
    with pytest.raises(RuntimeError):
        await svc.imports.commit(ADMIN, preview.job_id)
    assert await store.customers.count() == 4
    fresh = Services(svc.config, store, svc.clock)
    assert await fresh.imports.roll_back(ADMIN, preview.job_id) == 4
    assert await store.customers.count() == 0
    with pytest.raises(Invalid):
        await fresh.imports.commit(ADMIN, preview.job_id)


async def test_mapping_a_column_by_hand(svc: Services) -> None:
    data = b"Kunde,Handy,Firma\nAnna,13800138000,ACME\n"
    preview = await svc.imports.start(ADMIN, "de.csv", data, source={})
    assert [c.target for c in preview.columns] == ["note", "note", "note"]
    assert preview.invalid == 1  # no name column
    for column, target in ((0, "name"), (1, "phones"), (2, "company")):
        preview = await svc.imports.set_column(ADMIN, preview.job_id, column, target)
    assert preview.new == 1 and preview.samples[0]["company"] == "ACME"
    preview = await svc.imports.set_column(ADMIN, preview.job_id, 2, "name")
    assert [c.target for c in preview.columns] == ["note", "phones", "name"], "one name column only"


@pytest.mark.parametrize("others", [0, 30], ids=["scan-all", "one-query-per-phone"])
async def test_store_duplicates_are_found_by_a_scan_or_by_phone(
    svc: Services, store: Store, monkeypatch: pytest.MonkeyPatch, others: int
) -> None:
    """Few customers in the store: read them all, a page at a time; many: one look-up per phone."""
    monkeypatch.setattr(imports, "SCAN_PAGE", 2)  # several pages
    await existing(store)
    await store.customers.insert_many([
        Customer(id=f"o{i}", name=f"Other {i}", owner_id=WEST.id, team="west", phones=[f"+86137{i:08d}"])
        for i in range(others)
    ])  # fmt: skip
    scans = 0
    real = svc.imports._phone_holders

    async def counted() -> dict[str, list[str]]:
        nonlocal scans
        scans += 1
        return await real()

    monkeypatch.setattr(svc.imports, "_phone_holders", counted)
    rows = "\n".join(f"New {i},1350013{i:04d}" for i in range(5))
    data = f"Name,Phone\n{rows}\n老客户,13600136000\nTheirs,+86 137{1:08d}\n".encode()
    preview = await svc.imports.start(ADMIN, "d.csv", data, source={})
    assert (preview.new, preview.duplicates_store) == (6 - (others > 1), 1 + (others > 1))
    assert scans == (1 if others == 0 else 0)


async def test_two_commits_of_one_job_at_once_write_each_row_once(
    svc: Services, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second tap while the first commit runs: batches that collide are worked out again."""
    monkeypatch.setattr(imports, "BATCH", 3)
    data = b"Name,Phone\n" + b"\n".join(f"C{i},1380013{i:04d}".encode() for i in range(10)) + b"\n"
    preview = await svc.imports.start(ADMIN, "x.csv", data, source={})
    await svc.imports.set_owner(ADMIN, preview.job_id, REP.id)
    other = Services(svc.config, store, svc.clock)  # another replica, the same job
    await other.imports.reload(preview.job_id, await other.imports.job(ADMIN, preview.job_id), data)
    first, second = await asyncio.gather(svc.imports.commit(ADMIN, preview.job_id),
                                         other.imports.commit(ADMIN, preview.job_id))
    assert await store.customers.count() == 10 and await store.purchases.count() == 0
    assert await store.audit.count({"action": "import", "entity_type": "customer"}) == 10
    assert first.created == second.created == 10
