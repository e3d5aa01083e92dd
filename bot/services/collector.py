"""Pausing the cyclic garbage collector while many short-lived, acyclic records are alive.

A report (size M: ~100 000 decoded records for a second or two) or the daily scan
(thousands of customers' histories, for seconds) keeps many records alive at once;
every full collection in that time walks all of them, and holding the GIL it stops
the event loop for 0.1-0.8 s (``docs/performance.md``).  The records hold no
reference cycles, so reference counting frees them when the work is done; the
collector is paused meanwhile and its next run finds them gone.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_paused = 0
_paused_lock = threading.Lock()
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside (see the module docstring).

    Nested and concurrent pauses (two reports, a report during the scan) share one,
    and the collector is put back as it was found when the last one ends.
    """
    global _paused, _collector_was_enabled
    with _paused_lock:
        if _paused == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _collector_was_enabled:
                gc.enable()
