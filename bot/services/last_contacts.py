"""Each customer's latest contact, remembered between reports and kept current by the store.

The churn score measures "days without contact" from a customer's latest
interaction that counts as a contact (``[churn] unanswered_counts_as_contact``
decides whether an unanswered call does).  A report reads the interactions of
its two periods anyway; for each customer with no contact in them it used to
look the latest one up in the store, about 4 000 index look-ups for an
admin's monthly report at size M (0.4 s of the loop, in slices; issue 15,
``docs/performance.md``).

:class:`LastContacts` remembers, per customer it has seen, the latest counting
contact *overall* (any date, a future one included) as ``(occurred_at, id)``,
or that there is none.  It learns a customer the first time a report needs
one (a look-up, as before) and is then kept current by a change listener
(``Store.listen``) on every committed interaction write, whoever made it:

- an insert or update of a counting, live contact later than the one known
  replaces it;
- an update or delete of the record known (moved earlier, to another customer,
  marked deleted, no longer counting) forgets the customer: the next report
  looks them up again;
- any other write cannot change the latest (a record that is not the latest
  going away leaves the latest where it is).

A look-up is remembered only when no write on that customer was heard while it
was read; a delete is heard by id only, so a remembered record is also checked
when it is used (read by id: still live, still counting, same customer and
time), and forgotten otherwise.  Like the search index, it hears this
process's writes only (a second replica on the SQL backend would not be heard).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.domain.models import Interaction, Outcome
from storage.base import Range, Record, Store

NONE = None  # known: the customer has no counting contact at all
PAGE = 4  # a customer's latest interactions read at once, looking for a counting one

_Known = tuple[datetime, str] | None


class LastContacts:
    """The latest counting contact per customer (see the module docstring)."""

    def __init__(self, store: Store, unanswered_counts: Callable[[], bool]) -> None:
        self.store = store
        self._unanswered_counts = unanswered_counts
        self._known: dict[str, _Known] = {}  # customer id -> (occurred_at, interaction id) | NONE
        self._customer_of: dict[str, str] = {}  # interaction id known -> its customer
        self._heard_at: dict[str, int] = {}  # customer id -> the write's sequence number
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._rule = unanswered_counts()  # what the remembered contacts were chosen by
        self._stop_listening = store.listen(self._heard)

    def counts(self, record: Interaction) -> bool:
        return self._unanswered_counts() or record.outcome != Outcome.NO_ANSWER

    def __len__(self) -> int:
        return len(self._known)

    # ---- kept current -------------------------------------------------------------------------
    def _heard(self, collection: str, record_id: str, record: Record | None) -> None:
        if collection != "interactions":
            return
        self._last_seq = next(self._seq)
        owner = self._customer_of.get(record_id)
        if owner is not None:  # the record known as someone's latest changed or went away
            known = self._known.get(owner)
            still = (isinstance(record, Interaction) and record.customer_id == owner
                     and not record.deleted and self.counts(record)
                     and known is not None and record.occurred_at >= known[0])
            if still:
                assert isinstance(record, Interaction)
                self._known[owner] = (record.occurred_at, record_id)
            else:
                self._forget(owner)
        if not isinstance(record, Interaction):
            return
        customer = record.customer_id
        self._heard_at[customer] = self._last_seq
        if customer not in self._known or record.deleted or not self.counts(record):
            return
        known = self._known[customer]
        if known is NONE or record.occurred_at > known[0]:
            self._remember(customer, (record.occurred_at, record.id))

    def _remember(self, customer: str, value: _Known) -> None:
        old = self._known.get(customer)
        if old is not None:
            self._customer_of.pop(old[1], None)
        self._known[customer] = value
        if value is not None:
            self._customer_of[value[1]] = customer

    def _forget(self, customer: str) -> None:
        old = self._known.pop(customer, None)
        if old is not None:
            self._customer_of.pop(old[1], None)

    # ---- asked ----------------------------------------------------------------------------------
    async def before(
        self, customer: str, low: datetime, pause: Callable[[], Awaitable[None]]
    ) -> Interaction | None:
        """The customer's latest counting contact before ``low``, given that they have none
        from ``low`` up to the report's now (the caller read those): the latest overall when
        it lies before ``low``, else (only a future-dated one lies beyond) a look-up below it."""
        if self._rule != self._unanswered_counts():  # the rule changed: nothing known holds
            self._rule = self._unanswered_counts()
            self._known.clear()
            self._customer_of.clear()
        if customer not in self._known:
            await self._learn(customer)
            await pause()
        known = self._known.get(customer, NONE)
        if known is NONE:
            return None
        if known[0] < low:
            record = await self.store.interactions.get(known[1])
            if (isinstance(record, Interaction) and record.customer_id == customer and not record.deleted
                    and self.counts(record) and record.occurred_at == known[0]):
                return record
            self._forget(customer)  # deleted, or changed, and heard only by id
        return await self._latest(customer, low)

    async def _learn(self, customer: str) -> None:
        started = self._last_seq
        latest = await self._latest(customer, None)
        if self._heard_at.get(customer, 0) <= started:  # nothing written on them meanwhile
            self._remember(customer, (latest.occurred_at, latest.id) if latest is not None else NONE)

    async def _latest(self, customer: str, low: datetime | None) -> Interaction | None:
        page_size = 1 if self._unanswered_counts() else PAGE
        offset = 0
        while True:
            page = await self.store.interactions.find(
                {"customer_id": customer, "deleted": False}, within=Range("occurred_at", None, low),
                order_by="occurred_at", descending=True, offset=offset, limit=page_size)
            hit = next((r for r in page if self.counts(r)), None)
            if hit is not None or len(page) < page_size:
                return hit
            offset += page_size

    def close(self) -> None:
        self._stop_listening()
