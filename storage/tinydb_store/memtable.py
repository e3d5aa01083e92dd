"""One collection in memory: the encoded records and their indexes, and the query planner.

Records are kept as the JSON-ready dicts ``codec.to_dict`` makes (the same
dicts the journal and the snapshots hold); only the records a read returns
are decoded to dataclasses.  Beside them:

* an equality index per ``indexed`` field: value -> set of ids (a list-valued
  field such as ``phones`` or ``tags`` indexes each element; ``None`` is
  indexed too, so ``where={"team": None}`` works);
* an order index per ``ranged`` field: a ``SortedList`` of ``(value, id)``
  (nulls are kept apart: they never match a range and sort last); dates and
  datetimes are stored as ISO strings, datetimes always in UTC, so string
  order is time order (``...:05+00:00`` sorts before ``...:05.1+00:00``);
* the ids themselves in a ``SortedList``, for ``order_by="id"``.

Every index update is O(log n) (``sortedcontainers`` keeps its lists in
chunks) and every look-up touches only the ids its best index yields, so no
operation's cost grows with the collection except through the size of its
own answer.

Planning a ``find``: the smallest equality set supplies the candidates and
the other sets are only membership tests (intersecting a rep's 20,000 ids
with the million of ``deleted=False`` up front would cost 3 ms of cache
misses); a range is two bisections.  The result is then either *walked* in
the order index (filtering, stopping after ``offset + limit`` hits: best when
matches are common and the page is small) or *materialised* and sorted with a
heap (best when the matches are few).  The planner estimates both; a walk
that overruns its estimate falls back to materialising, so a bad estimate
costs at most a constant factor.  ``count`` with both an equality and a range
must look at every record of the smaller side (there are no composite
indexes), so it costs O(min(matches of either)).
"""

from __future__ import annotations

import heapq
import itertools
import typing
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sortedcontainers import SortedList

from bot.domain.codec import _encode as encode_value  # the codec's own value encoding
from bot.domain.codec import type_hints
from storage.base import CollectionSpec, QueryError, Range

_Doc = dict[str, Any]


def _field_kinds(spec: CollectionSpec) -> tuple[set[str], dict[str, type]]:
    """Which indexed fields hold lists, and whether each ranged field is a date or datetime."""
    hints = type_hints(spec.record_type)
    listy = set()
    for name in spec.indexed:
        hint = hints[name]
        if typing.get_origin(hint) is list:
            listy.add(name)
    kinds: dict[str, type] = {}
    for name in spec.ranged:
        hint = hints[name]
        args = typing.get_args(hint) or (hint,)
        kinds[name] = datetime if datetime in args else date
    return listy, kinds


class MemTable:
    """The records of one collection and every index over them."""

    def __init__(self, spec: CollectionSpec) -> None:
        self.spec = spec
        self.listy, self.range_kinds = _field_kinds(spec)
        self.docs: dict[str, _Doc] = {}
        self.eq: dict[str, dict[Hashable, set[str]]] = {f: {} for f in spec.indexed}
        self.order: dict[str, SortedList] = {f: SortedList() for f in spec.ranged}
        self.nulls: dict[str, set[str]] = {f: set() for f in spec.ranged}
        self.ids: SortedList = SortedList()

    # -- loading and writing ----------------------------------------------

    def load(self, docs: dict[str, _Doc]) -> None:
        """Take ``docs`` (not copied) and build every index in bulk.

        One sort per index instead of n inserts; sorting ids by a key (a plain
        string comparison) rather than ``(value, id)`` tuples, and stably over
        ids already in order, so ties stay in id order.
        """
        self.docs = docs
        ids = list(docs)  # in the dicts' own order: sequential in memory, unlike sorted(ids)
        records = list(docs.values())
        for name in self.spec.indexed:
            index: defaultdict[Hashable, set[str]] = defaultdict(set)
            if name in self.listy:
                for rid, doc in zip(ids, records, strict=True):
                    for value in doc.get(name) or ():
                        index[value].add(rid)
            else:
                for rid, doc in zip(ids, records, strict=True):
                    index[doc.get(name)].add(rid)
            self.eq[name] = dict(index)
        by_id = sorted(range(len(ids)), key=ids.__getitem__)
        for name in self.spec.ranged:
            values = [doc.get(name) for doc in records]
            present = [k for k in by_id if values[k] is not None]
            present.sort(key=values.__getitem__)  # stable: equal values stay in id order
            self.order[name] = SortedList([(values[k], ids[k]) for k in present])
            self.nulls[name] = {ids[k] for k, value in enumerate(values) if value is None}
        self.ids = SortedList([ids[k] for k in by_id])

    def put(self, doc: _Doc) -> _Doc | None:
        """Insert or replace a record; returns the previous one."""
        rid = doc["id"]
        old = self.docs.get(rid)
        self.docs[rid] = doc
        if old is None:
            self.ids.add(rid)
            for name in self.spec.indexed:
                self._eq_add(name, rid, doc.get(name))
            for name in self.spec.ranged:
                self._order_add(name, rid, doc.get(name))
            return None
        for name in self.spec.indexed:
            before, after = old.get(name), doc.get(name)
            if before != after:
                self._eq_remove(name, rid, before)
                self._eq_add(name, rid, after)
        for name in self.spec.ranged:
            before, after = old.get(name), doc.get(name)
            if before != after:
                self._order_remove(name, rid, before)
                self._order_add(name, rid, after)
        return old

    def remove(self, rid: str) -> _Doc | None:
        old = self.docs.pop(rid, None)
        if old is None:
            return None
        self.ids.remove(rid)
        for name in self.spec.indexed:
            self._eq_remove(name, rid, old.get(name))
        for name in self.spec.ranged:
            self._order_remove(name, rid, old.get(name))
        return old

    def _keys(self, name: str, value: Any) -> Iterable[Any]:
        if name in self.listy:
            return value or ()
        return (value,)

    def _eq_add(self, name: str, rid: str, value: Any) -> None:
        index = self.eq[name]
        for key in self._keys(name, value):
            bucket = index.get(key)
            if bucket is None:
                index[key] = {rid}
            else:
                bucket.add(rid)

    def _eq_remove(self, name: str, rid: str, value: Any) -> None:
        index = self.eq[name]
        for key in self._keys(name, value):
            bucket = index.get(key)
            if bucket is not None:
                bucket.discard(rid)
                if not bucket:
                    del index[key]

    def _order_add(self, name: str, rid: str, value: Any) -> None:
        if value is None:
            self.nulls[name].add(rid)
        else:
            self.order[name].add((value, rid))

    def _order_remove(self, name: str, rid: str, value: Any) -> None:
        if value is None:
            self.nulls[name].discard(rid)
        else:
            self.order[name].discard((value, rid))

    def holder(self, name: str, value: Any) -> str | None:
        """The id of a record whose ``name`` is ``value`` (for unique fields)."""
        bucket = self.eq[name].get(value)
        return next(iter(bucket)) if bucket else None

    # -- queries -----------------------------------------------------------

    def encode_bound(self, within: Range, bound: Any) -> str | None:
        if bound is None:
            return None
        kind = self.range_kinds[within.field]
        where = f"{self.spec.name}.{within.field}"
        if kind is datetime:
            if not isinstance(bound, datetime):
                raise QueryError(f"{where} is a datetime; bound {bound!r} must be one too")
            if bound.tzinfo is None or bound.utcoffset() is None:
                raise QueryError(f"{where}: bound {bound!r} must be timezone-aware")
            return encode_value(bound)
        if isinstance(bound, datetime) or not isinstance(bound, date):
            raise QueryError(f"{where} is a date; bound {bound!r} must be a date")
        return bound.isoformat()

    def _plan(self, where: Mapping[str, Any], within: Range | None) -> _Plan | None:
        """Index sets and range slice for a query; None when it cannot match anything."""
        plan = _Plan()
        if where:
            sets: list[set[str]] = []
            for name, value in where.items():
                if name == "id":
                    found = {value} if value in self.docs else set()
                else:
                    try:
                        found = self.eq[name].get(value, _EMPTY)
                    except TypeError:
                        raise QueryError(
                            f"{self.spec.name}.{name}: {value!r} is not a single comparable value"
                        ) from None
                if not found:
                    return None
                sets.append(found)
            sets.sort(key=len)
            plan.primary, plan.filters = sets[0], sets[1:]
        if within is not None:
            plan.within = within.field
            plan.lo = self.encode_bound(within, within.start)
            plan.hi = self.encode_bound(within, within.end)
            index = self.order[within.field]
            plan.start = 0 if plan.lo is None else index.bisect_left((plan.lo,))
            plan.stop = len(index) if plan.hi is None else index.bisect_left((plan.hi,))
            if plan.stop <= plan.start:
                return None
        return plan

    def _matched(self, plan: _Plan) -> set[str]:
        """Every id that passes the equalities (live index set when only one: do not mutate)."""
        assert plan.primary is not None
        return plan.primary.intersection(*plan.filters) if plan.filters else plan.primary

    def count(self, where: Mapping[str, Any], within: Range | None) -> int:
        plan = self._plan(where, within)
        if plan is None:
            return 0
        if plan.primary is None:
            return len(self.docs) if plan.within is None else plan.stop - plan.start
        if plan.within is None:
            return len(self._matched(plan))
        if plan.stop - plan.start < len(plan.primary):
            pairs = self.order[plan.within].islice(plan.start, plan.stop)
            return sum(1 for _, rid in pairs if plan.admits(rid))
        name, docs = plan.within, self.docs
        low, high = plan.lo or "", plan.hi or "\uffff"  # every stored date string lies between
        return sum(
            1
            for rid in self._matched(plan)
            if (v := docs[rid].get(name)) is not None and low <= v < high
        )

    def select(
        self,
        where: Mapping[str, Any],
        within: Range | None,
        order_by: str,
        descending: bool,
        offset: int,
        limit: int | None,
    ) -> list[str]:
        """Ids of the matching records, ordered and paged (see the module docstring)."""
        if limit is not None and limit <= 0:
            return []
        plan = self._plan(where, within)
        if plan is None:
            return []
        offset = max(offset, 0)
        if limit is not None:
            # How many records match at most, and how long a walk along order_by would be.
            estimate = len(self.docs) if plan.primary is None else len(plan.primary)
            if plan.within is not None:
                estimate = min(estimate, plan.stop - plan.start)
            if plan.within == order_by:
                walk_length = plan.stop - plan.start
            elif order_by == "id":
                walk_length = len(self.ids)
            else:
                walk_length = len(self.order[order_by])
            walk_cost = (offset + limit) * walk_length / max(estimate, 1)
            if walk_cost <= 2 * estimate + 64:
                budget = int(4 * walk_cost) + 256
                found = self._walk(plan, order_by, descending, offset, limit, budget)
                if found is not None:
                    return found
        return self._materialise(plan, order_by, descending, offset, limit)

    def _walk(
        self, plan: _Plan, order_by: str, descending: bool, offset: int, limit: int, budget: int
    ) -> list[str] | None:
        """Walk the order index; None when the walk runs too long or into the nulls."""
        no_nulls = plan.within == order_by or order_by == "id"
        ids: Iterator[str]
        if order_by == "id":
            ids = iter(self.ids.islice(reverse=descending))
        else:
            index = self.order[order_by]
            if plan.within == order_by:
                pairs = index.islice(plan.start, plan.stop, reverse=descending)
            else:
                pairs = index.islice(reverse=descending)
            ids = (rid for _, rid in pairs)
        test = None
        if plan.within is not None and plan.within != order_by:
            test = _in_range(plan.within, plan.lo, plan.hi)
        docs = self.docs
        if plan.primary is None and test is None:
            page = list(itertools.islice(ids, offset, offset + limit))
            return page if len(page) == limit or no_nulls else None
        page = []
        skip = offset
        for steps, rid in enumerate(ids):
            if steps > budget:
                return None
            if not plan.admits(rid) or (test is not None and not test(docs[rid])):
                continue
            if skip:
                skip -= 1
                continue
            page.append(rid)
            if len(page) == limit:
                return page
        return page if no_nulls else None

    def _materialise(
        self, plan: _Plan, order_by: str, descending: bool, offset: int, limit: int | None
    ) -> list[str]:
        docs = self.docs
        want = None if limit is None else offset + limit
        # 1. the matching ids, from the smaller of the equality sets and the range
        candidates: Iterable[str]
        if plan.within is None:
            candidates = docs.keys() if plan.primary is None else self._matched(plan)
        elif plan.primary is None or plan.stop - plan.start < len(plan.primary):
            pairs = self.order[plan.within].islice(plan.start, plan.stop)
            if plan.primary is None:
                candidates = [rid for _, rid in pairs]
            else:
                candidates = [rid for _, rid in pairs if plan.admits(rid)]
        else:
            test = _in_range(plan.within, plan.lo, plan.hi)
            candidates = [rid for rid in self._matched(plan) if test(docs[rid])]
        # 2. ordered, nulls last; ties by id in the same direction
        if order_by == "id":
            ordered = _top(candidates, want, descending)
        else:
            keyed = []
            nulls = []
            for rid in candidates:
                value = docs[rid].get(order_by)
                if value is None:
                    nulls.append(rid)
                else:
                    keyed.append((value, rid))
            ordered = [rid for _, rid in _top(keyed, want, descending)]
            if want is None or len(ordered) < want:
                more = None if want is None else want - len(ordered)
                ordered.extend(_top(nulls, more, descending))
        return ordered[offset:] if want is None else ordered[offset:want]


_EMPTY: frozenset[str] = frozenset()


@dataclass
class _Plan:
    """What a query narrows to: equality sets (smallest first) and a range slice."""

    primary: set[str] | None = None  # the smallest equality set: candidates come from it
    filters: list[set[str]] = field(default_factory=list)  # the other sets: membership tests
    within: str | None = None
    lo: str | None = None
    hi: str | None = None
    start: int = 0
    stop: int = 0

    def admits(self, rid: str) -> bool:
        """Whether ``rid`` passes every equality."""
        if self.primary is not None and rid not in self.primary:
            return False
        return all(rid in other for other in self.filters)


def _top(items: Iterable[Any], want: int | None, descending: bool) -> list[Any]:
    """The first ``want`` items in order (a heap when that is cheaper than sorting all)."""
    if want is None:
        return sorted(items, reverse=descending)
    items = items if isinstance(items, list) else list(items)
    if want * 8 < len(items):
        pick = heapq.nlargest if descending else heapq.nsmallest
        return pick(want, items)
    return sorted(items, reverse=descending)[:want]


def _in_range(name: str, lo: str | None, hi: str | None) -> Callable[[_Doc], bool]:
    def test(doc: _Doc) -> bool:
        value = doc.get(name)
        return value is not None and (lo is None or value >= lo) and (hi is None or value < hi)

    return test
