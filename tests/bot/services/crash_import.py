"""The process ``test_import_crash.py`` kills: one import of a generated CSV, batch by batch.

``python crash_import.py BACKEND LOCATION CSV`` opens the store (``tinydb`` or ``sqlite``, as
``tests/storage/crash_transactions.py`` does: the TinyDB compactor in its child process),
starts an import of CSV as the admin for ``rep-a``, prints ``job <id>``, commits it, prints
``done`` and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.storage.crash_transactions import ADMIN, T0, emit, open_backend


def rows_csv(rows: int) -> bytes:
    """``rows`` new customers, each with its own phone and a purchase."""
    lines = ["Name,Phone,Company,Product,Amount"]
    lines += [f"客户 {i},1380{i:07d},公司 {i % 50},茶叶,{100 + i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def run_import(backend: str, location: str, csv_path: str) -> None:
    from bot.clock import SimulatedClock
    from bot.config import load_config
    from bot.services import Services

    store = open_backend(backend, location)
    await store.open()
    emit("open")
    services = Services(load_config(None, environ={}, search=False), store, SimulatedClock(T0))
    path = Path(csv_path)
    preview = await services.imports.start(ADMIN, path.name, path.read_bytes(), source={"path": str(path)})
    await services.imports.set_owner(ADMIN, preview.job_id, "rep-a")
    emit("job", preview.job_id)
    await services.imports.commit(ADMIN, preview.job_id)
    emit("done")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(run_import(sys.argv[1], sys.argv[2], sys.argv[3]))
