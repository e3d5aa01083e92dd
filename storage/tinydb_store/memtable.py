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

Planning a ``find``: equality sets are intersected smallest first; a range is
two bisections.  The result is then either *walked* in the order index
(filtering by membership, stopping after ``offset + limit`` hits: best when
matches are common and the page is small) or *materialised* and sorted with a
heap (best when the matches are few).  The planner estimates both; a walk
that overruns its estimate falls back to materialising, so a bad estimate
costs at most a constant factor.
"""

from __future__ import annotations

import heapq
import itertools
import typing
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

from sortedcontainers import SortedList

from bot.domain.codec import _encode as encode_value  # the codec's own value encoding
from storage.base import CollectionSpec, QueryError, Range

_Doc = dict[str, Any]


def _field_kinds(spec: CollectionSpec) -> tuple[set[str], dict[str, type]]:
    """Which indexed fields hold lists, and whether each ranged field is a date or datetime."""
    hints = typing.get_type_hints(spec.record_type)
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
        """Take ``docs`` (not copied) and build every index in bulk (one sort beats n inserts)."""
        self.docs = docs
        for name in self.spec.indexed:
            index: dict[Hashable, set[str]] = {}
            if name in self.listy:
                for rid, doc in self.docs.items():
                    for value in doc.get(name) or ():
                        index.setdefault(value, set()).add(rid)
            else:
                for rid, doc in self.docs.items():
                    index.setdefault(doc.get(name), set()).add(rid)
            self.eq[name] = index
        for name in self.spec.ranged:
            pairs = []
            nulls = set()
            for rid, doc in self.docs.items():
                value = doc.get(name)
                if value is None:
                    nulls.add(rid)
                else:
                    pairs.append((value, rid))
            pairs.sort()
            self.order[name] = SortedList(pairs)
            self.nulls[name] = nulls
        self.ids = SortedList(self.docs)

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

    def _equal(self, where: Mapping[str, Any]) -> set[str] | None:
        """Ids matching every equality (a live index set when only one: do not mutate)."""
        if not where:
            return None
        sets: list[set[str]] = []
        for name, value in where.items():
            if name == "id":
                found = {value} if value in self.docs else set()
            else:
                try:
                    found = self.eq[name].get(value, set())
                except TypeError:
                    raise QueryError(
                        f"{self.spec.name}.{name}: {value!r} is not a single comparable value"
                    ) from None
            if not found:
                return set()
            sets.append(found)
        sets.sort(key=len)
        return sets[0] if len(sets) == 1 else sets[0].intersection(*sets[1:])

    def _range_slice(self, name: str, lo: str | None, hi: str | None) -> tuple[int, int]:
        index = self.order[name]
        start = 0 if lo is None else index.bisect_left((lo,))
        stop = len(index) if hi is None else index.bisect_left((hi,))
        return start, max(start, stop)

    def count(self, where: Mapping[str, Any], within: Range | None) -> int:
        matched = self._equal(where)
        if within is None:
            return len(self.docs) if matched is None else len(matched)
        lo, hi = self.encode_bound(within, within.start), self.encode_bound(within, within.end)
        start, stop = self._range_slice(within.field, lo, hi)
        if matched is None:
            return stop - start
        if stop - start < len(matched):
            slice_ = self.order[within.field].islice(start, stop)
            return sum(1 for _, rid in slice_ if rid in matched)
        name, docs = within.field, self.docs
        low, high = lo or "", hi or "\uffff"  # every stored date/datetime string lies between
        return sum(1 for rid in matched if (v := docs[rid].get(name)) is not None and low <= v < high)

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
        offset = max(offset, 0)
        want = None if limit is None else offset + limit
        matched = self._equal(where)
        if matched is not None and not matched:
            return []
        lo = hi = None
        start = stop = 0
        if within is not None:
            lo, hi = self.encode_bound(within, within.start), self.encode_bound(within, within.end)
            start, stop = self._range_slice(within.field, lo, hi)
            if start == stop:
                return []

        ordered_range = within is not None and within.field == order_by
        # How many records match at most, and how long the walk along order_by would be.
        estimate = len(self.docs)
        if matched is not None:
            estimate = len(matched)
        if within is not None:
            estimate = min(estimate, stop - start)
        if ordered_range:
            walk_length = stop - start
        elif order_by == "id":
            walk_length = len(self.ids)
        else:
            walk_length = len(self.order[order_by])

        if want is not None:
            walk_cost = want * walk_length / max(estimate, 1)
            if walk_cost <= 2 * estimate + 64:
                found = self._walk(
                    matched,
                    within,
                    lo,
                    hi,
                    start,
                    stop,
                    order_by,
                    descending,
                    offset,
                    limit,
                    budget=int(4 * walk_cost) + 256,
                )
                if found is not None:
                    return found
        return self._materialise(
            matched, within, lo, hi, start, stop, order_by, descending, offset, want
        )

    def _walk(
        self,
        matched: set[str] | None,
        within: Range | None,
        lo: str | None,
        hi: str | None,
        start: int,
        stop: int,
        order_by: str,
        descending: bool,
        offset: int,
        limit: int | None,
        budget: int,
    ) -> list[str] | None:
        """Walk the order index; None when the walk is too long or runs into the nulls."""
        assert limit is not None
        ordered_range = within is not None and within.field == order_by
        if order_by == "id":
            ids: Iterator[str] = iter(self.ids.islice(reverse=descending))
        else:
            index = self.order[order_by]
            pairs = (
                index.islice(start, stop, reverse=descending)
                if ordered_range
                else index.islice(reverse=descending)
            )
            ids = (rid for _, rid in pairs)
        test = None if within is None or ordered_range else _in_range(within.field, lo, hi)
        docs = self.docs
        if matched is None and test is None:
            page = list(itertools.islice(ids, offset, offset + limit))
            if len(page) == limit or ordered_range or order_by == "id":
                return page
            return None  # the page reaches the records whose order field is null
        page = []
        skip = offset
        for steps, rid in enumerate(ids):
            if steps > budget:
                return None
            if matched is not None and rid not in matched:
                continue
            if test is not None and not test(docs[rid]):
                continue
            if skip:
                skip -= 1
                continue
            page.append(rid)
            if len(page) == limit:
                return page
        if ordered_range or order_by == "id":
            return page  # no nulls can follow
        return None

    def _materialise(
        self,
        matched: set[str] | None,
        within: Range | None,
        lo: str | None,
        hi: str | None,
        start: int,
        stop: int,
        order_by: str,
        descending: bool,
        offset: int,
        want: int | None,
    ) -> list[str]:
        docs = self.docs
        # 1. the matching ids
        candidates: Iterable[str]
        if within is None:
            candidates = matched if matched is not None else docs.keys()
        elif matched is None or stop - start < len(matched):
            pairs = self.order[within.field].islice(start, stop)
            if matched is None:
                candidates = [rid for _, rid in pairs]
            else:
                candidates = [rid for _, rid in pairs if rid in matched]
        else:
            test = _in_range(within.field, lo, hi)
            candidates = [rid for rid in matched if test(docs[rid])]
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
