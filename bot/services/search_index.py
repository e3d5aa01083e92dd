"""The customer search index of one store: built off the event loop at start, kept current on write.

Searching used to decode every customer the caller may see and build a
``SearchIndex`` for each query (p95 ~800 ms at 10 000 customers, the loop
blocked throughout).  This keeps one :class:`bot.domain.search.SearchIndex`
of *all* customers per store instead:

* **Built once**, when ``start`` is called (``bot/app.py`` startup) or by the
  first query: the store is read in pages ordered by ``created_at`` (keyset
  paging, so a concurrent insert or delete shifts nothing) and each page's
  search documents are built in the index's own worker thread while the
  next page is read.  A query that comes before the build is done waits for
  it, in that thread, never on the loop.
* **Kept current** by a change listener on the store (``Store.listen``),
  called after every committed insert, update and delete of a customer,
  whichever service or tool made it: the listener only queues the fields
  search needs; the worker applies the queue before each query, so a
  customer saved a moment ago is found by the next search.  Replacements
  keep the newest ``version``, so the order in which the queue and the
  initial pages arrive does not matter.
* **Visibility is a filter over ids**: the index keeps each customer's owner
  and team; a rep's query only looks at their own ids, a manager's at their
  own and their teams'.  The records returned are read from the store by id
  and checked again with ``bot.domain.access`` by the caller, so a stale
  entry can neither leak a customer nor show an old version of one.
* **One thread** (``ThreadPoolExecutor(max_workers=1)``) runs the build, the
  queue and the queries, so the index needs no locks and queries see writes
  in commit order.  A rep's query (about a millisecond: it only tests the
  rep's own customers' values) runs on the loop instead when that thread is
  idle, as the loop knows (every job is handed over and collected by it).

* **Other processes' writes** (replicas sharing a SQL database) are not
  heard by the listener: on such a store (``shared_with_other_processes``) a
  query first reads, at most every ``CATCH_UP_SECONDS``, the customers whose
  ``updated_at`` is at or after the newest seen less ``CATCH_UP_OVERLAP``
  (a ranged index read; the overlap covers replicas' clock skew and commits
  that land out of time order).  A customer another replica deleted stays in
  the index until restart, but results are re-read from the store, so it is
  never shown.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import deque
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rapidfuzz import fuzz, process

from bot.domain.duplicates import NAME_SIMILARITY, Duplicate, company_key, find_duplicates
from bot.domain.models import Customer, Record, Role, StaffUser
from bot.domain.search import Match, SearchDoc, SearchIndex
from storage.base import Range, Store

log = logging.getLogger(__name__)

#: Customers read (and decoded, on the loop) per page while the index is built.
PAGE = 250
#: On a store other processes write to: how often a query first reads their changes, and how
#: far before the newest change seen it reads again (clock skew, commits out of time order).
CATCH_UP_SECONDS = 1.0
CATCH_UP_OVERLAP = timedelta(minutes=5)
#: From this many customers on, the built index is frozen out of the GC's reach (see ``_load``).
FREEZE_FROM = 5_000
#: A rep's query runs on the loop only with at most this many changes to apply first.
INLINE_PENDING = 8
#: … and only for a rep with at most this many customers (at 2 000 a query takes ~10 ms).
INLINE_CUSTOMERS = 500

T = TypeVar("T")
_Fields = tuple[Any, ...]


def _fields(customer: Customer) -> _Fields:
    """What the search document needs, copied now (the record may be changed by its caller later)."""
    return (customer.id, customer.name, customer.company, tuple(customer.phones),
            tuple(customer.tags), customer.city, customer.email, customer.owner_id,
            customer.team, customer.version)


def _doc(fields: _Fields) -> SearchDoc:
    (id_, name, company, phones, tags, city, email, owner_id, team, version) = fields
    return SearchDoc(id=id_, name=name, company=company, phones=phones, tags=tags, city=city,
                     email=email, owner_id=owner_id, team=team, version=version)


def visible_ids(index: SearchIndex, actor: StaffUser) -> AbstractSet[str] | None:
    """The ids ``actor`` may see, as ``bot.domain.access.can_view_customer`` decides (None: all)."""
    if actor.role is Role.ADMIN:
        return None
    own = index.ids_of_owner(actor.id)
    if actor.role is not Role.MANAGER or not actor.teams:
        return own
    ids = set(own)
    for team in actor.teams:
        ids |= index.ids_of_team(team)
    return ids


class CustomerSearchIndex:
    """The search index of ``store``'s customers (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._index = SearchIndex()
        self._pending: deque[tuple[str, _Fields | None]] = deque()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-index")
        self._build: asyncio.Future[None] | None = None
        self._company_keys: dict[str, str] = {}
        self._busy = 0  # jobs given to the worker and not finished (as the loop knows it)
        self.build_seconds: float | None = None
        self._newest_seen: datetime | None = None  # the latest updated_at read from the store
        self._caught_up_at: float | None = None
        self._stop_listening = store.listen(self._heard)

    # ---- keeping it current ------------------------------------------------------------------
    def _heard(self, collection: str, record_id: str, record: Record | None) -> None:
        if collection == "customers":
            fields = _fields(record) if isinstance(record, Customer) else None
            self._pending.append((record_id, fields))

    def _apply_pending(self) -> None:
        """In the worker: the changes heard so far, in commit order."""
        pending, index = self._pending, self._index
        while pending:
            record_id, fields = pending.popleft()
            if fields is None:
                index.remove(record_id)
            else:
                index.add(_doc(fields))

    def _saw(self, customers: list[Customer]) -> None:
        newest = max((c.updated_at for c in customers), default=None)
        if newest is not None and (self._newest_seen is None or newest > self._newest_seen):
            self._newest_seen = newest

    async def _catch_up(self) -> None:
        """Queue the customers other processes changed since the newest change read (see above)."""
        if not self.store.shared_with_other_processes or self._newest_seen is None:
            return
        now = asyncio.get_running_loop().time()
        if self._caught_up_at is not None and now - self._caught_up_at < CATCH_UP_SECONDS:
            return
        self._caught_up_at = now
        changed = await self.store.customers.find(
            within=Range("updated_at", start=self._newest_seen - CATCH_UP_OVERLAP), order_by="updated_at")
        self._pending.extend((c.id, _fields(c)) for c in changed)
        self._saw(changed)

    def _add_page(self, page: list[_Fields]) -> None:
        for fields in page:
            self._index.add(_doc(fields))

    # ---- building ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start building the index in the background (once); queries before it ends wait."""
        if self._build is None:
            self._build = asyncio.ensure_future(self._load())
            self._build.add_done_callback(_report_failure)

    async def ready(self) -> None:
        """Wait for the build (starting it if needed); a failed build is retried by the next call."""
        self.start()
        assert self._build is not None
        build = self._build
        try:
            await asyncio.shield(build)
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._build is build:
                self._build = None
            raise
        await self._catch_up()

    async def rebuild(self) -> None:
        """Read every customer again (e.g. after another replica's bulk changes)."""
        await self.ready()
        self._build = asyncio.ensure_future(self._reload())
        self._build.add_done_callback(_report_failure)
        await self.ready()

    async def _reload(self) -> None:
        await self._in_worker(self._reset)
        await self._load()

    def _reset(self) -> None:
        self._index = SearchIndex()

    async def _load(self) -> None:
        """Read the store in pages and index them in the worker, with the cyclic GC paused.

        The build allocates a few million long-lived objects; each full
        collection the growing heap triggers would walk all of them, holding
        the GIL (and so the loop) for hundreds of milliseconds.  Nothing the
        index holds forms a cycle; once built, a large index is moved out of
        the collector's reach (``gc.freeze``), as the TinyDB store does with
        what it loads.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            await self._load_pages()
        finally:
            if collecting:
                gc.enable()
        if len(self._index) >= FREEZE_FROM:
            gc.freeze()

    async def _load_pages(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        cursor, ties = None, 0  # the last created_at read, and how many records of it were read
        building: asyncio.Future[None] | None = None
        while True:
            page = await self.store.customers.find(
                within=Range("created_at", start=cursor) if cursor is not None else None,
                order_by="created_at", offset=ties, limit=PAGE,
            )
            fields = [_fields(c) for c in page]
            self._saw(page)
            if building is not None:
                await building
            building = loop.run_in_executor(self._worker, self._add_page, fields)
            if len(page) < PAGE:
                break
            last = page[-1].created_at
            same = sum(1 for c in page if c.created_at == last)
            ties = same + (ties if last == cursor else 0)
            cursor = last
        await building
        self.build_seconds = loop.time() - started
        log.info("search index: %d customers in %.2f s", len(self._index), self.build_seconds)

    async def _in_worker(self, function: Callable[..., T], *args: Any) -> T:
        self._busy += 1
        future = asyncio.get_running_loop().run_in_executor(self._worker, function, *args)
        future.add_done_callback(self._idle)
        return await future

    def _idle(self, _future: object) -> None:
        self._busy -= 1

    async def _for(self, actor: StaffUser, function: Callable[..., T], *args: Any) -> T:
        """In the worker; but a rep's with few customers (~1 ms) runs on the loop when the
        worker is idle and little is queued: two thread hand-offs cost more than that on a
        busy machine."""
        if (actor.role is Role.REP and self._busy == 0 and len(self._pending) <= INLINE_PENDING
                and len(self._index.ids_of_owner(actor.id)) <= INLINE_CUSTOMERS):
            return function(*args)
        return await self._in_worker(function, *args)

    # ---- queries -------------------------------------------------------------------------------
    async def rank(self, actor: StaffUser, query: str, limit: int) -> list[Match]:
        """The best ``limit`` matches among the customers ``actor`` may see (by the index)."""
        await self.ready()
        return await self._for(actor, self._rank, actor, query, limit)

    def _rank(self, actor: StaffUser, query: str, limit: int) -> list[Match]:
        self._apply_pending()
        return self._index.rank(query, limit, visible=visible_ids(self._index, actor))

    async def similar(self, actor: StaffUser, new: SearchDoc) -> list[Duplicate]:
        """Duplicates of ``new`` by e-mail or by a similar name in the same company, among the
        customers ``actor`` may see (phones: ask the store, whose index covers everyone)."""
        await self.ready()
        return await self._for(actor, self._similar, actor, new)

    async def similar_many(self, actor: StaffUser, docs: list[SearchDoc]) -> list[list[Duplicate]]:
        """:meth:`similar` for each of ``docs``, in one worker job (an import checks thousands)."""
        await self.ready()
        return await self._in_worker(lambda: [self._similar(actor, doc) for doc in docs])

    def _similar(self, actor: StaffUser, new: SearchDoc) -> list[Duplicate]:
        self._apply_pending()
        index = self._index
        visible = visible_ids(index, actor)
        colleagues: set[str] = set()  # the same company, by its key (suffixes, case, spacing)
        wanted = company_key(new.company)
        if wanted:
            for value in index.values("company"):
                key = self._company_keys.get(value)
                if key is None:
                    key = self._company_keys[value] = company_key(value)
                if key == wanted:
                    colleagues |= index.with_value("company", value)
        if visible is not None:
            colleagues &= visible
        # A name_company duplicate needs a similar name: keep only those before the domain's check
        # (a big company has thousands of cards; the check is per card).
        docs = [doc for doc in map(index.get, colleagues) if doc is not None]
        name, readings = new.keys.fields[0].compact, set(new.keys.fields[0].pinyin)
        similar = {docs[i].id for _key, _ratio, i in process.extract(
            name, [d.keys.fields[0].compact for d in docs], scorer=fuzz.ratio,
            score_cutoff=NAME_SIMILARITY, limit=None)}
        similar.update(d.id for d in docs if not readings.isdisjoint(d.keys.fields[0].pinyin))
        if new.email:
            same_email = index.with_value("email", new.email)
            similar.update(same_email if visible is None else same_email & visible)
        found = [doc for doc in (index.get(i) for i in sorted(similar)) if doc is not None]
        return find_duplicates(new, found)

    async def names(self, actor: StaffUser) -> dict[str, str]:
        """id → name of the customers ``actor`` may see (by the index; archived ones too)."""
        await self.ready()
        return await self._for(actor, self._names, actor)

    def _names(self, actor: StaffUser) -> dict[str, str]:
        self._apply_pending()
        index = self._index
        visible = visible_ids(index, actor)
        if visible is None:
            return {doc.id: doc.name for doc in index.docs}
        return {doc.id: doc.name for doc in map(index.get, visible) if doc is not None}

    async def size(self) -> int:
        await self.ready()
        return await self._in_worker(lambda: (self._apply_pending(), len(self._index))[1])

    def close(self) -> None:
        """Stop listening and let the worker thread go (the index is not used afterwards)."""
        self._stop_listening()
        self._worker.shutdown(wait=False, cancel_futures=True)


def _report_failure(build: asyncio.Future[None]) -> None:
    """A build that failed (the store closed under it, at shut-down) is logged, not left unretrieved."""
    if not build.cancelled() and build.exception() is not None:
        log.warning("search index build failed: %s", build.exception())
