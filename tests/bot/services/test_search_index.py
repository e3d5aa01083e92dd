"""The store's customer search index: built at start, kept current by the store, filtered by visibility."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import SimulatedClock
from bot.config import load_config
from bot.domain.models import Customer, Role, StaffUser
from bot.services import Services, search_index
from bot.services.customers import ListFilter
from bot.services.errors import AccessDenied
from storage import TinyDBStore
from storage.base import Store

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
REP = StaffUser(id="r1", telegram_id=1, name="Rep One", role=Role.REP, teams=["east"])
OTHER = StaffUser(id="r2", telegram_id=2, name="Rep Two", role=Role.REP, teams=["west"])
MANAGER = StaffUser(id="m1", telegram_id=3, name="Manager", role=Role.MANAGER, teams=["east"])
ADMIN = StaffUser(id="a1", telegram_id=4, name="Admin", role=Role.ADMIN)


def customer(id: str, name: str, owner: StaffUser, *, at: datetime = NOW, **fields: object) -> Customer:
    return Customer(id=id, name=name, owner_id=owner.id, team=owner.teams[0] if owner.teams else None,
                    created_at=at, updated_at=at, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = TinyDBStore(tmp_path / "data", fsync=False)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def services(store: Store) -> Services:
    return Services(load_config(None, environ={}, search=False), store, SimulatedClock(NOW))


async def names(svc: Services, actor: StaffUser, query: str) -> list[str]:
    return [c.name for c in await svc.customers.search(actor, query)]


async def test_built_from_what_the_store_holds_across_pages_with_equal_times(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "PAGE", 3)
    same = [customer(f"c{i:02}", f"Same Time {i:02}", REP) for i in range(7)]
    later = [customer(f"d{i:02}", f"Later {i:02}", REP, at=NOW + timedelta(seconds=i // 2))
             for i in range(5)]
    await store.customers.insert_many(same + later)
    svc = services(store)
    assert await svc.customers.search_index.size() == 12
    assert len(await svc.customers.search(ADMIN, "same time")) == 7
    assert len(await svc.customers.search(ADMIN, "later")) == 5


async def test_writes_during_the_build_are_not_lost(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "PAGE", 2)
    await store.customers.insert_many([customer(f"c{i}", f"Zhang {i}", REP) for i in range(6)])
    svc = services(store)
    svc.customers.search_index.start()
    renamed = dataclasses.replace((await store.customers.get("c0")), name="Li Na")
    await asyncio.gather(store.customers.update(renamed), store.customers.delete("c5"),
                         store.customers.insert(customer("n1", "Zhang New", REP)))
    assert sorted(await names(svc, ADMIN, "zhang")) == [
        "Zhang 1", "Zhang 2", "Zhang 3", "Zhang 4", "Zhang New"]
    assert await names(svc, ADMIN, "lina") == ["Li Na"]


async def test_every_store_write_reaches_the_index(store: Store) -> None:
    svc = services(store)
    assert await names(svc, ADMIN, "zhang") == []
    saved = await store.customers.insert(customer("c1", "张伟", REP, phones=["+8613800138000"]))
    assert await names(svc, ADMIN, "0013") == ["张伟"]
    await store.customers.update(dataclasses.replace(saved, name="李娜", phones=[]))
    assert await names(svc, ADMIN, "0013") == []
    assert await names(svc, ADMIN, "lina") == ["李娜"]
    await store.customers.delete("c1")
    assert await names(svc, ADMIN, "lina") == []


async def test_visibility_is_a_filter_over_ids(store: Store) -> None:
    await store.customers.insert_many([
        customer("own", "Zhang Own", REP), customer("team", "Zhang Team", MANAGER),
        customer("west", "Zhang West", OTHER),
    ])
    svc = services(store)
    assert await names(svc, REP, "zhang") == ["Zhang Own"]
    assert await names(svc, MANAGER, "zhang") == ["Zhang Own", "Zhang Team"]
    assert await names(svc, ADMIN, "zhang") == ["Zhang Own", "Zhang Team", "Zhang West"]
    with pytest.raises(AccessDenied):
        await svc.customers.search(dataclasses.replace(REP, active=False), "zhang")


async def test_duplicates_by_phone_anywhere_and_by_name_or_email_among_the_visible(store: Store) -> None:
    await store.customers.insert_many([
        customer("p", "Somebody", OTHER, phones=["+8613800138000"]),
        customer("n", "张伟", REP, company="腾讯科技有限公司"),
        customer("e", "J. Miller", REP, email="John@Acme.com"),
        customer("hidden", "张伟", OTHER, company="腾讯科技"),
    ])
    svc = services(store)
    found = await svc.customers.duplicates(REP, {"name": "章伟", "company": "腾讯科技",
                                                 "phones": ["+8613800138000"]})
    assert [(c.id, reason) for c, reason in found.visible] == [("n", "name_company")]
    assert found.hidden == 1  # the other rep's customer with that phone
    found = await svc.customers.duplicates(REP, {"name": "John Miller", "email": "john@acme.com"})
    assert [(c.id, reason) for c, reason in found.visible] == [("e", "email")]
    found = await svc.customers.duplicates(ADMIN, {"name": "张伟", "company": "腾讯"})
    assert sorted(c.id for c, _ in found.visible) == []  # 腾讯 is another company than 腾讯科技
    found = await svc.customers.duplicates(ADMIN, {"name": "张伟", "company": "腾讯科技"})
    assert sorted(c.id for c, _ in found.visible) == ["hidden", "n"]


async def test_lists_sort_by_pinyin(store: Store) -> None:
    await store.customers.insert_many([customer(f"c{i}", name, REP) for i, name in enumerate(
        ("张伟", "Bob", "王芳", "安娜", "Wang Lei", "李娜"))])
    svc = services(store)
    listed = await svc.customers.listing(REP, ListFilter())
    assert [c.name for c in listed] == ["安娜", "Bob", "李娜", "王芳", "Wang Lei", "张伟"]


async def test_quick_log_matches_names_by_the_index_without_reading_every_customer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.customers.insert_many([
        customer("c1", "张伟", REP), customer("c2", "张伟明", REP), customer("c3", "Li", REP),
        customer("c4", "Zhang Wei", REP), customer("c5", "Zhang Wei", MANAGER),
        customer("c6", "Old Friend", REP, archived=True), customer("c7", "Wang Fang", OTHER),
    ])
    svc = services(store)
    await svc.customers.search_index.ready()

    async def no_scan(*args: object, **kwargs: object) -> list[Customer]:
        raise AssertionError("match_customer decoded every visible customer")

    monkeypatch.setattr(svc.customers, "all_visible", no_scan)
    match = svc.interactions.match_customer

    async def matched(actor: StaffUser, text: str) -> tuple[list[str], str]:
        found = await match(actor, text)
        return [c.id for c in found.candidates], found.rest

    assert await matched(REP, "张伟明打电话了") == (["c2"], "打电话了")  # the longest name wins
    assert await matched(REP, "张伟 拜访了工厂") == (["c1"], "拜访了工厂")
    assert await matched(REP, "Old Friend called") == (["c6"], "called")  # archived ones too
    assert (await matched(REP, "Lisa called"))[0] == []  # "Li" ends at a word boundary only
    assert await matched(MANAGER, "Zhang Wei met") == (["c4", "c5"], "met")  # all of the same name
    assert await matched(REP, "Zhang Wei met") == (["c4"], "met")  # visibility by ids
    assert (await matched(REP, "Wang Fang called"))[0] == []  # another rep's customer
    renamed = dataclasses.replace(await store.customers.get("c3"), name="Li Na")
    await store.customers.update(renamed)  # a write reaches the next match
    assert await matched(REP, "Li Na called") == (["c3"], "called")
    from bot.services import interactions

    monkeypatch.setattr(interactions, "NAMES_ON_LOOP", 0)  # many names: matched in a thread, alike
    assert await matched(MANAGER, "Zhang Wei met") == (["c4", "c5"], "met")
    with pytest.raises(AccessDenied):
        await match(dataclasses.replace(REP, active=False), "张伟 called")


async def test_the_feedback_list_reads_only_its_customers(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.domain.models import Feedback, FeedbackKind, FeedbackStatus

    await store.customers.insert_many([
        customer("own", "Zhang Own", REP), customer("old", "Zhang Old", REP, archived=True),
        customer("team", "Zhang Team", MANAGER), customer("west", "Zhang West", OTHER),
    ])

    def item(id: str, customer_id: str, minutes: int, **fields: object) -> Feedback:
        at = NOW + timedelta(minutes=minutes)
        return Feedback(id=id, customer_id=customer_id, owner_id="r1", kind=FeedbackKind.COMPLAINT,
                        content="late", created_at=at, updated_at=at, **fields)  # type: ignore[arg-type]

    await store.feedback.insert_many([
        item("f1", "team", 3), item("f2", "own", 2), item("f3", "west", 1), item("f4", "old", 4),
        item("f5", "own", 0, status=FeedbackStatus.CONFIRMED), item("f6", "own", 5, deleted=True),
    ])
    svc = services(store)

    async def no_scan(*args: object, **kwargs: object) -> list[Customer]:
        raise AssertionError("the feedback list decoded every visible customer")

    monkeypatch.setattr(svc.customers, "all_visible", no_scan)

    async def listed(actor: StaffUser) -> list[tuple[str, str]]:
        return [(f.id, c.id) for f, c in await svc.feedback.open_items(actor)]

    assert await listed(REP) == [("f2", "own"), ("f4", "old")]  # oldest first, archived too
    assert await listed(MANAGER) == [("f2", "own"), ("f1", "team"), ("f4", "old")]
    assert await listed(ADMIN) == [("f3", "west"), ("f2", "own"), ("f1", "team"), ("f4", "old")]
    with pytest.raises(AccessDenied):
        await svc.feedback.open_items(dataclasses.replace(REP, active=False))


async def test_a_replica_finds_what_another_process_saved_in_a_shared_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two SQL stores on one database stand for two replicas: the listener hears only its own
    process, so a query first reads the customers changed since the newest one it has seen."""
    from storage.sql.store import SQLStore

    monkeypatch.setattr(search_index, "CATCH_UP_SECONDS", 0.0)
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    here, there = SQLStore(url), SQLStore(url)
    await here.open()
    await there.open()
    try:
        await here.customers.insert(customer("c0", "Wang Fang", REP))
        svc = services(here)
        assert await names(svc, ADMIN, "wang") == ["Wang Fang"]
        renamed = dataclasses.replace(await there.customers.get("c0"), name="Li Na",
                                      updated_at=NOW + timedelta(minutes=1))
        await there.customers.update(renamed)
        await there.customers.insert(customer("c1", "Zhang Wei", OTHER, at=NOW + timedelta(minutes=2)))
        assert await names(svc, ADMIN, "zhang wei") == ["Zhang Wei"]
        assert await names(svc, ADMIN, "li na") == ["Li Na"]
        assert await names(svc, ADMIN, "wang fang") == []
    finally:
        await here.close()
        await there.close()
