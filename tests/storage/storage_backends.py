"""The backends the storage contract runs against.

A backend is a name and a function that, given a test's temporary directory,
builds an *unopened* store living there; calling it again builds a second
store object over the same data (that is how the tests reopen).  Adding the
SQL backend is one more entry here.

The TinyDB backend takes part three times: with its defaults, compacting
after every few writes (so every test also runs over snapshot files), and
never compacting (so every reopen replays the journal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from storage import Store, TinyDBStore

BACKENDS: dict[str, Callable[[Path], Store]] = {
    "tinydb": lambda tmp: TinyDBStore(tmp / "data"),
    "tinydb-compacting": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=3, compact_ratio=0, compactor="thread"
    ),
    "tinydb-journal": lambda tmp: TinyDBStore(
        tmp / "data", compact_every=10**9, compact_on_close=False
    ),
}
