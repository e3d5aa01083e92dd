"""Keep every core busy until killed: CI runs the suite under load to prove it holds anywhere."""

from __future__ import annotations

import multiprocessing
import os


def burn() -> None:
    os.nice(5)  # loaded, not starved: the suite still gets its share
    while True:
        pass


if __name__ == "__main__":
    workers = [multiprocessing.Process(target=burn, daemon=True) for _ in range(os.cpu_count() or 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
