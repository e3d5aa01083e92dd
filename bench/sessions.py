"""Benchmark: what reading and writing a user's session costs an update (issue 17).

    python bench/sessions.py                        # TinyDB and an SQLite file
    python bench/sessions.py --sql-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Each update of a user now reads their session record before the handlers run
(``StorePersistence.begin``) and, when something changed, writes it
compare-and-set (``write_through`` / ``finish``). This times both halves
through a real ``StoreApplication`` with the bot's handlers registered (so
every persistent ConversationHandler is visited), for 200 users with a draft
each: a read-only update (the state did not change) and an update that
changes the draft. Prints the median and p95 per update, per backend.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Chat, Message, Update, User

from bot.app import build_application
from bot.clock import SystemClock
from bot.config import load_config
from bot.persistence import StorePersistence
from bot.services import Services
from storage import TinyDBStore
from storage.base import Store
from storage.sql import SQLStore

USERS = 200


def update_for(user_id: int, n: int) -> Update:
    user = User(user_id, "U", False)
    chat = Chat(user_id, "private")
    message = Message(n, None, chat, from_user=user, text="x")  # type: ignore[arg-type]
    return Update(n, message=message)


async def measure(name: str, store: Store) -> None:
    await store.open()
    try:
        config = load_config(None, environ={}, search=False)
        app = build_application(Services(config=config, store=store, clock=SystemClock()), token="1:bench")
        persistence = app.persistence
        assert isinstance(persistence, StorePersistence)
        for uid in range(1, USERS + 1):
            app.user_data[uid]["draft"] = {"name": f"Customer {uid}", "token": uuid.uuid4().hex, "version": 0}
            await persistence.update_user_data(uid, dict(app.user_data[uid]))
        reads, writes = [], []
        for round_ in range(3):
            for uid in range(1, USERS + 1):
                update = update_for(uid, round_ * USERS + uid)
                started = time.perf_counter()
                session = await persistence.begin(app, update)
                with persistence.running(session):
                    pass
                await persistence.finish(app, session)
                reads.append(time.perf_counter() - started)
                started = time.perf_counter()
                session = await persistence.begin(app, update)
                with persistence.running(session):
                    app.user_data[uid]["draft"]["version"] += 1
                await persistence.finish(app, session)
                writes.append(time.perf_counter() - started)

        def figures(samples: list[float]) -> str:
            ms = sorted(s * 1000 for s in samples)
            return f"median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95)]:.2f} ms"

        print(f"| {name} | {figures(reads)} | {figures(writes)} |")
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sql-url", action="append", default=[])
    args = parser.parse_args()
    print(f"{USERS} users, 3 rounds; per update: session read + (no) write")
    print("| backend | state unchanged (read only) | draft changed (read + compare-and-set write) |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        await measure("tinydb", TinyDBStore(Path(tmp) / "data"))
        await measure("sqlite file", SQLStore(f"sqlite:///{Path(tmp) / 'crm.sqlite3'}"))
        for url in args.sql_url:
            prefix = f"bench{uuid.uuid4().hex[:6]}_"
            store = SQLStore(url, prefix=prefix)
            await measure(url.split("://")[0].split("+")[0], store)
            cleanup = SQLStore(url, prefix=prefix)
            await cleanup.open()
            await cleanup.drop_tables()
            await cleanup.close()


if __name__ == "__main__":
    asyncio.run(main())
