"""Issue 17's end-to-end test: two replicas in webhook mode on one database, the sandbox in front.

The sandbox POSTs the updates to the two replicas' URLs in turn (its webhook
delivery, ``sandbox.deliver_to``), as a round-robin load balancer would; each
replica is a whole bot with its own store object, sharing only the database
(an SQLite file; PostgreSQL when ``CRM_BOT_TEST_DATABASE_URL`` is set). Several
reps fill the add-customer form at once, their steps interleaved so that each
rep's updates alternate between the replicas: every customer is saved once,
to its owner, and no draft is lost or overwritten. Then 1 000 due reminders,
both replicas delivering: each is sent exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections import Counter
from typing import Any

import pytest

pytest.importorskip("bot.webhook", reason="needs webhook mode (issue 17 point 4) merged in")

from bot.app import deliver_now
from bot.domain.models import Customer, ReminderKind, ReminderStatus
from handlers.common import SERVICES_KEY
from handlers.customers import DRAFT
from tests.bot.test_replicas import REPS, StoreFactory, add_reps, shared_database  # noqa: F401
from tests.helpers import bot_in_sandbox, webhook_config

CUSTOMER_NAME = re.compile(r"Kunde \d{4}")  # the 1 000 reminders' customers
STEPS = ("/add", "Customer {n}{k} Zhang", "1380013{n}{k}00", "Firm {n}{k}")


@contextlib.asynccontextmanager
async def two_webhook_replicas(sandbox: Any, config: Any, clock: Any, stores: StoreFactory) -> Any:
    config = webhook_config(dataclasses.replace(config, telegram=dataclasses.replace(
        config.telegram, api_base_url=sandbox.base_url, file_base_url=sandbox.file_base_url,
        messages_per_second=1000.0)))
    async with bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False, store=stores(),
                              replica=True) as first, \
            bot_in_sandbox(sandbox, config, clock=clock, auto_tick=False, store=stores(),
                           replica=True) as second:
        urls = [first.bot_data["webhook_server"].local_url, second.bot_data["webhook_server"].local_url]
        sandbox.deliver_to(urls)
        yield first, second, urls


async def test_two_webhook_replicas_complete_interleaved_forms_of_several_reps(
    shared_database: StoreFactory, sandbox: Any, config: Any, clock: Any  # noqa: F811
) -> None:
    async with two_webhook_replicas(sandbox, config, clock, shared_database) as (first, _second, urls):
        store = first.bot_data[SERVICES_KEY].store
        await add_reps(store, clock.now())
        users = [sandbox.user(telegram_id, first_name=name.split()[0], language_code="en")
                 for telegram_id, name in REPS.items()]
        senders: dict[int, int] = {}  # update id → the user who sent it
        push = sandbox.state.updates.push

        def recording(kind: str, body: dict[str, Any]) -> int:
            update_id = push(kind, body)
            senders[update_id] = body.get("from", {}).get("id", 0)
            return update_id

        sandbox.state.updates.push = recording
        for k in range(2):  # two customers per rep; the reps' steps interleaved
            for step in STEPS:
                for n, user in enumerate(users):
                    replies = await user.send(step.format(n=n, k=k))
                    assert replies
            for n, user in enumerate(users):
                replies = await user.press("✅ Save")
                assert replies
        # the round robin sent each rep's updates to both replicas, alternating
        by_user: dict[int, list[str]] = {}
        for update_id, url in sorted(sandbox.state.updates.delivered_to.items()):
            by_user.setdefault(senders[update_id], []).append(url)
        for user in users:
            assert set(by_user[user.id]) == set(urls)
            assert all(a != b for a, b in zip(by_user[user.id], by_user[user.id][1:], strict=False))
        saved = await store.customers.find()
        expected = {(f"Customer {n}{k} Zhang", str(user.id), f"Firm {n}{k}")
                    for n, user in enumerate(users) for k in range(2)}
        assert {(c.name, c.owner_id, c.company) for c in saved} == expected
        for user in users:
            session = await store.kv.get(f"session:{user.id}")
            assert session is not None and DRAFT not in session.value["user_data"]
        # … and all at once: each rep's whole form while the others fill theirs
        async def one_form(n: int, user: Any) -> None:
            for step in STEPS:
                assert await user.send(step.format(n=n, k=9))
            assert await user.press("✅ Save")

        await asyncio.gather(*(one_form(n, user) for n, user in enumerate(users)))
        assert len(await store.customers.find()) == len(expected) + len(users)
    assert sandbox.refused == []


@pytest.mark.slow  # 1 000 reminders through two bots and the sandbox over HTTP
async def test_two_webhook_replicas_deliver_1000_due_reminders_once(
    shared_database: StoreFactory, sandbox: Any, config: Any, clock: Any  # noqa: F811
) -> None:
    async with two_webhook_replicas(sandbox, config, clock, shared_database) as (first, second, _urls):
        store = first.bot_data[SERVICES_KEY].store
        await add_reps(store, clock.now())
        services = first.bot_data[SERVICES_KEY]
        for telegram_id, name in REPS.items():  # their private chats exist
            sandbox.user(telegram_id, first_name=name.split()[0], language_code="en")
        owners = [str(telegram_id) for telegram_id in REPS]
        customers = [Customer(name=f"Kunde {n:04d}", owner_id=owners[n % len(owners)]) for n in range(1000)]
        await store.customers.insert_many(customers)
        for customer in customers:
            await services.reminders.schedule(kind=ReminderKind.FOLLOW_UP, recipient_id=customer.owner_id,
                                              due_at=clock.now(), dedupe_key=f"follow_up:{customer.id}",
                                              customer_id=customer.id)
        sent = await asyncio.gather(deliver_now(first), deliver_now(second))
        assert sum(sent) >= 1000
        texts = Counter(
            name for telegram_id in REPS for message in sandbox.user(telegram_id).bot_messages()
            for name in set(CUSTOMER_NAME.findall(message.text or ""))
        )
        assert len(texts) == 1000 and set(texts.values()) == {1}
        assert await store.reminders.count({"status": ReminderStatus.SENT.value}) == 1000
