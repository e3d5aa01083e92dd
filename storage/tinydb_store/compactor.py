"""Compaction: fold closed journal generations into the snapshot partitions, on disk.

``merge(directory, upto_gen)`` reads the journals the manifest still lists
(generations ``manifest.journal_gen .. upto_gen``, all closed: the store has
rotated to ``upto_gen + 1`` before asking), groups their ops by partition,
and for each touched partition loads its current snapshot, applies the ops
and writes a new TinyDB file.  Untouched partitions are not read or written.
Then one atomic rename of ``MANIFEST.json`` makes the new files current and
tells recovery to replay journals from ``upto_gen + 1`` only; the replaced
files are deleted last.  A crash at any point leaves the old manifest, whose
files are all still there (new files carry new names), or the new one.

It works from the files rather than from the store's memory so that it can
run in a separate process (``python -m storage.tinydb_store.compactor``):
encoding hundreds of thousands of records is CPU work that, in a thread,
would hold the GIL and make every request of the event loop wait for it.
In its own process it uses the second core and the event loop does not
notice it.

The process takes ``COMPACT.lock``; a store that opens the directory takes it
too, so it waits for a compactor left running by a process that was killed.
A compactor whose parent died before it got the lock does nothing (the
process that opens the directory next may already be reading it).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from storage.files import PRIVATE_FILE
from storage.tinydb_store.files import (
    COMPACT_LOCK,
    Manifest,
    StoreCorruptError,
    fsync_dir,
    journal_gens,
    journal_name,
    partition_name,
    read_manifest,
    read_partition,
    write_manifest,
    write_partition,
)
from storage.tinydb_store.journal import replay_journal

log = logging.getLogger(__name__)


@dataclass
class MergeResult:
    journals: int = 0
    ops: int = 0
    partitions_written: int = 0
    seconds: float = 0.0
    skipped: str | None = None


def compaction_lock(directory: Path, timeout: float) -> FileLock:
    return FileLock(str(directory / COMPACT_LOCK), timeout=timeout, mode=PRIVATE_FILE,
                    thread_local=False)


def merge(
    directory: Path, upto_gen: int, *, parent_pid: int | None = None, lock_timeout: float = 300
) -> MergeResult:
    """Fold journals up to ``upto_gen`` into new snapshot partitions (see the module docstring)."""
    lock = compaction_lock(directory, 0 if parent_pid is not None else lock_timeout)
    try:
        lock.acquire()
    except Timeout:
        return MergeResult(skipped="another process holds the compaction lock")
    try:
        if parent_pid is not None and os.getppid() != parent_pid:
            return MergeResult(skipped="the store process is gone")
        return _merge_locked(directory, upto_gen)
    finally:
        lock.release()


def _merge_locked(directory: Path, upto_gen: int) -> MergeResult:
    started = time.perf_counter()
    manifest = read_manifest(directory) or Manifest()
    result = MergeResult()
    if manifest.journal_gen > upto_gen:
        result.skipped = "already merged"
        return result
    gens = [g for g in journal_gens(directory) if manifest.journal_gen <= g <= upto_gen]
    touched: dict[tuple[str, int], list[tuple[str, dict | None]]] = defaultdict(list)
    last_seq = manifest.snapshot_seq
    for gen in gens:
        for seq, ops in replay_journal(directory, gen):
            last_seq = max(last_seq, seq)
            for collection, bucket, rid, doc in ops:
                touched[(collection, bucket)].append((rid, doc))
                result.ops += 1
    result.journals = len(gens)

    new_gen = upto_gen + 1
    partitions = {c: dict(p) for c, p in manifest.partitions.items()}
    checksums = dict(manifest.checksums)
    replaced: list[str] = []
    for (collection, bucket), ops in sorted(touched.items()):
        current = partitions.get(collection, {}).get(str(bucket))
        docs: dict[str, dict] = {}
        if current is not None:
            for doc in read_partition(directory / current, collection, manifest.checksums.get(current)):
                docs[doc["id"]] = doc
            replaced.append(current)
        for rid, doc in ops:
            if doc is None:
                docs.pop(rid, None)
            else:
                docs[rid] = doc
        if docs:
            name = partition_name(collection, bucket, new_gen)
            checksums[name] = write_partition(directory / name, collection, docs.values())
            partitions.setdefault(collection, {})[str(bucket)] = name
            result.partitions_written += 1
        else:
            partitions.get(collection, {}).pop(str(bucket), None)
    fsync_dir(directory)  # every new partition's name is durable before the manifest names it

    write_manifest(
        directory,
        Manifest(
            snapshot_seq=last_seq,
            journal_gen=new_gen,
            buckets=manifest.buckets,
            partitions={c: p for c, p in partitions.items() if p},
            checksums=checksums,
        ),
    )
    # The new state is durable; what it replaced is garbage now.
    for name in replaced:
        (directory / name).unlink(missing_ok=True)
    for gen in gens:
        (directory / journal_name(gen)).unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m storage.tinydb_store.compactor DIRECTORY UPTO_GEN PARENT_PID``"""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(main.__doc__, file=sys.stderr)
        return 2
    directory, upto_gen, parent_pid = Path(args[0]), int(args[1]), int(args[2])
    try:
        os.nice(10)  # background work: the bot's own process comes first for the CPU
    except (AttributeError, OSError):
        pass
    try:
        result = merge(directory, upto_gen, parent_pid=parent_pid)
    except StoreCorruptError as exc:
        print(f"compaction of {directory} failed: {exc}", file=sys.stderr)
        return 1
    if result.skipped:
        print(f"compaction skipped: {result.skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
