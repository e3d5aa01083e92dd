"""Two bot replicas on one database: a user's updates alternate between them and nothing is lost.

Each replica is a whole Application with its own store object (so its own
connections, persistence and memory, as a separate process has); they share
only the database: an SQLite file always, PostgreSQL when
``CRM_BOT_TEST_DATABASE_URL`` is set (skipped with that reason otherwise).
The router in ``tests/replicas.py`` stands where the load balancer stands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.domain.models import Role, StaffUser
from bot.persistence import StaleState, StorePersistence
from handlers.common import SERVICES_KEY
from handlers.customers import DRAFT
from storage.base import Store
from storage.sql import SQLStore
from tests.replicas import alternating, replicas

POSTGRES = os.environ.get("CRM_BOT_TEST_DATABASE_URL")
if POSTGRES:  # the driver's first import takes a while: at collection, not inside a test's event loop
    import psycopg.pq.misc  # noqa: F401
    import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
REPS = {611: "Wang Fang", 612: "Li Na", 613: "Zhao Lei"}

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
async def shared_database(request: Any, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes store objects that all open the same database."""
    if request.param == "postgres":
        if not POSTGRES:
            pytest.skip("set CRM_BOT_TEST_DATABASE_URL to run the replicas on PostgreSQL")
        prefix = f"r{uuid.uuid4().hex[:8]}_"
        yield lambda: SQLStore(POSTGRES, prefix=prefix)
        store = SQLStore(POSTGRES, prefix=prefix)
        await store.open()
        await store.drop_tables()
        await store.close()
    else:
        url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        yield lambda: SQLStore(url)


@pytest.fixture
def sandbox_config(config: Any, sandbox: Any) -> Any:
    return dataclasses.replace(
        config,
        telegram=dataclasses.replace(config.telegram, api_base_url=sandbox.base_url,
                                     file_base_url=sandbox.file_base_url),
    )


async def add_reps(store: Store, now: Any) -> None:
    for telegram_id, name in REPS.items():
        await store.staff.insert(StaffUser(id=str(telegram_id), telegram_id=telegram_id, name=name, role=Role.REP,
                                           teams=["east"], language="en", created_at=now, updated_at=now))


async def add_customer(user: Any, name: str, phone: str, company: str) -> list[Any]:
    replies = await user.send("/add")
    assert "Customer name?" in replies[-1].text
    replies = await user.send(name)
    assert "Phone number?" in replies[-1].text
    replies = await user.send(phone)
    assert "Company?" in replies[-1].text
    replies = await user.send(company)
    assert "check before saving" in replies[-1].text and name in replies[-1].text
    return await user.press("✅ Save")


async def test_wizards_alternating_between_two_replicas_complete_for_several_users(
    shared_database: StoreFactory, sandbox: Any, sandbox_config: Any, clock: Any
) -> None:
    async with replicas(sandbox, sandbox_config, [shared_database(), shared_database()], clock) as (apps, router):
        store = apps[0].bot_data[SERVICES_KEY].store
        await add_reps(store, clock.now())
        users = {telegram_id: sandbox.user(telegram_id, first_name=name.split()[0], language_code="en")
                 for telegram_id, name in REPS.items()}

        async def one_rep(telegram_id: int, n: int) -> None:
            for k in range(2):  # two customers each, one after the other
                replies = await add_customer(users[telegram_id], f"Customer {n}{k} Zhang", f"1380013{n}{k}00",
                                             f"Firm {n}{k}")
                assert "Saved" in replies[-1].text or "Customer" in replies[-1].text

        await asyncio.gather(*(one_rep(telegram_id, n) for n, telegram_id in enumerate(REPS)))
        # every user's updates really went to both replicas, never twice in a row to one
        by_user: dict[int, list[int]] = {}
        for update, replica in router.handled:
            by_user.setdefault(update.effective_user.id, []).append(replica)
        for telegram_id in REPS:
            assert set(by_user[telegram_id]) == {0, 1}
            assert all(a != b for a, b in zip(by_user[telegram_id], by_user[telegram_id][1:], strict=False))
        saved = await store.customers.find()
        expected = {(f"Customer {n}{k} Zhang", str(telegram_id), f"Firm {n}{k}")
                    for n, telegram_id in enumerate(REPS) for k in range(2)}
        assert {(c.name, c.owner_id, c.company) for c in saved} == expected  # each once, to its owner
        for telegram_id in REPS:  # no draft left behind, no conversation left open
            session = await store.kv.get(f"session:{telegram_id}")
            assert session is not None and DRAFT not in session.value["user_data"]
            assert session.value["conversations"] == {}


async def test_one_users_updates_at_once_on_two_replicas_run_as_if_one_came_after_the_other(
    shared_database: StoreFactory, sandbox: Any, sandbox_config: Any, clock: Any
) -> None:
    """Two names typed at once reach replica A and B together. B's is stored first; A's
    compare-and-set is refused, so A runs its update again on B's state: its text is then
    the answer to the phone question. B's draft is not overwritten."""
    by_text = {"Zhang Wei": 0, "Li Lei": 1}
    fallback = alternating()

    def route(update: Update) -> int:
        text = update.effective_message.text if update.effective_message else None
        return by_text[text] if text in by_text else fallback(update)

    async with replicas(sandbox, sandbox_config, [shared_database(), shared_database()], clock,
                        route=route) as (apps, router):
        store = apps[0].bot_data[SERVICES_KEY].store
        await add_reps(store, clock.now())
        rep = sandbox.user(611, first_name="Wang", language_code="en")
        await rep.send("/add")
        a, b = (app.persistence for app in apps)
        assert isinstance(a, StorePersistence) and isinstance(b, StorePersistence)
        b_done = asyncio.Event()
        refused: list[str] = []
        a_write, b_finish = a.write_through, b.finish

        async def a_waits_for_b(*args: Any) -> None:
            await b_done.wait()
            try:
                await a_write(*args)
            except StaleState:
                refused.append("A")
                raise

        async def b_then_a(*args: Any) -> None:
            await b_finish(*args)
            b_done.set()

        a.write_through = a_waits_for_b  # type: ignore[method-assign]
        b.finish = b_then_a  # type: ignore[method-assign]
        await rep.send("Zhang Wei", wait=False)
        await rep.send("Li Lei", wait=False)
        await router.drain()
        a.write_through, b.finish = a_write, b_finish  # type: ignore[method-assign]
        assert refused == ["A"]
        session = await store.kv.get("session:611")
        assert session is not None and session.value["user_data"][DRAFT]["name"] == "Li Lei"
        texts = [m.text for m in rep.bot_messages()[-2:]]
        assert "Phone number?" in texts[0] and "Li Lei" not in texts[1]  # A answered the phone step
        # the form goes on from B's draft, on either replica
        await rep.send("13800138000")
        await rep.send("Acme")
        replies = await rep.press("✅ Save")
        assert replies
        saved = await store.customers.find()
        assert [(c.name, c.phones, c.company) for c in saved] == [("Li Lei", ["+8613800138000"], "Acme")]


async def test_changes_made_after_the_handlers_are_merged_key_by_key(
    shared_database: StoreFactory, config: Any, clock: Any
) -> None:
    """Outside the wizard (a plain handler setting a ``user_data`` value), two replicas' updates of
    one user that ran at once both keep what they changed; a key both changed keeps the value stored first."""
    from telegram import Chat, Message, User

    from bot.app import build_application
    from bot.services import Services

    stores = [shared_database(), shared_database()]
    for store in stores:
        await store.open()
    try:
        apps = [build_application(Services(config=config, store=store, clock=clock), token="1:test")
                for store in stores]
        user, chat = User(611, "Wang", False), Chat(611, "private")
        update = Update(1, message=Message(1, clock.now(), chat, from_user=user, text="x"))
        a, b = (app.persistence for app in apps)
        assert isinstance(a, StorePersistence) and isinstance(b, StorePersistence)
        first_a, first_b = await a.begin(apps[0], update), await b.begin(apps[1], update)
        with a.running(first_a):
            apps[0].user_data[611].update(language="zh", shared="from A")
        with b.running(first_b):
            apps[1].user_data[611].update(filters={"tier": "high"}, shared="from B")
        await b.finish(apps[1], first_b)  # B first …
        await a.finish(apps[0], first_a)  # … then A, which read the session before B wrote it
        session = await stores[0].kv.get("session:611")
        assert session is not None
        assert session.value["user_data"] == {"language": "zh", "filters": {"tier": "high"}, "shared": "from B"}
        again = await a.begin(apps[0], update)  # the next update, on either replica, sees it all
        assert again is not None and dict(apps[0].user_data[611]) == session.value["user_data"]
    finally:
        for store in stores:
            await store.close()
