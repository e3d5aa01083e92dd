"""Visit check-in (外勤签到): where a visit happened, how far from the customer, how long it took.

A logged visit (``InteractionService.log`` with kind *visit*) is checked in by the
location the rep's phone shares; the interaction keeps the point, the customer's
address at that moment and the distance from the customer's saved location
(``Customer.location``; a customer without one takes the first check-in's). A
check-in farther than ``[visits] flag_distance_meters`` is flagged, never refused.
The visit ends with a check-out: a button, a second location, or the last update
of a live location shared during the visit.

Every method takes the acting staff user and re-checks access
(``bot.domain.access.can_check_in`` / ``can_see_visits_of``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config
from bot.domain import access, geo
from bot.domain.models import Customer, GeoPoint, Interaction, InteractionKind, StaffUser
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.errors import AccessDenied, update_or_refuse
from storage.base import Range, Store

#: A visit logged this long ago still waits for its check-in; a checked-in one for its check-out.
CHECK_IN_WINDOW = timedelta(hours=2)
VISIT_WINDOW = timedelta(hours=12)


@dataclass(frozen=True)
class CheckIn:
    """A visit's check-in as the confirmation and ``/visits`` show it."""

    interaction: Interaction
    customer: Customer
    far: bool
    location_saved: bool = False  # the customer had none: this check-in became it

    @property
    def distance_m(self) -> float | None:
        return self.interaction.check_in_distance_m

    @property
    def duration(self) -> timedelta | None:
        point = self.interaction.check_in
        return geo.visit_duration(point.at, self.interaction.checked_out_at) if point else None


class VisitService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService,
                 customers: CustomerService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers

    def _far(self, distance: float | None) -> bool:
        return geo.is_far(distance, self.config.visits.flag_distance_meters)

    async def _visit(self, actor: StaffUser, interaction_id: str) -> tuple[Interaction, Customer]:
        interaction = await self.store.interactions.get(interaction_id) if len(interaction_id) <= 64 else None
        if interaction is None or interaction.deleted or interaction.kind is not InteractionKind.VISIT:
            raise AccessDenied(f"visit {interaction_id}")
        customer = await self.customers.visible(actor, interaction.customer_id)
        if not access.can_check_in(actor, customer, interaction.owner_id):
            raise AccessDenied(f"check in visit {interaction_id}")
        return interaction, customer

    async def open_visit(self, actor: StaffUser) -> Interaction | None:
        """The actor's latest visit still waiting for a check-in or a check-out, if any."""
        now = self.clock.now()
        for interaction in await self.store.interactions.find(
            {"owner_id": actor.id, "deleted": False}, order_by="occurred_at", descending=True, limit=10,
        ):
            if interaction.kind is not InteractionKind.VISIT or interaction.checked_out_at is not None:
                continue
            if interaction.check_in is None and now - interaction.occurred_at <= CHECK_IN_WINDOW:
                return interaction
            if interaction.check_in is not None and now - interaction.check_in.at <= VISIT_WINDOW:
                return interaction
            return None  # the latest visit is closed or stale: older ones are too
        return None

    async def check_in(self, actor: StaffUser, interaction_id: str, point: GeoPoint) -> CheckIn:
        """Record the visit's location (once), its distance from the customer, and maybe the customer's."""
        interaction, customer = await self._visit(actor, interaction_id)
        if interaction.check_in is not None:
            raise AccessDenied(f"visit {interaction_id} already checked in")
        saved_location = customer.location
        distance = (geo.haversine_m(saved_location.latitude, saved_location.longitude,
                                    point.latitude, point.longitude) if saved_location else None)
        now = self.clock.now()

        def apply(record: Interaction) -> Interaction:
            if record.check_in is not None or record.deleted:
                raise AccessDenied(f"visit {interaction_id} already checked in")
            return dataclasses.replace(record, check_in=point, check_in_address=customer.address,
                                       check_in_distance_m=distance, updated_at=now)

        before, saved = await update_or_refuse(self.store.interactions, interaction_id, apply,
                                               what=f"interaction {interaction_id}")
        await self.audit.record_change(actor.id, "check_in", "interaction", before, saved)
        location_saved = False
        if saved_location is None:
            customer = await self._set_location(actor, customer.id, dataclasses.replace(point, live=False),
                                                only_if_empty=True)
            location_saved = customer.location is not None and customer.location.at == point.at
        return CheckIn(saved, customer, self._far(distance), location_saved)

    async def check_out(self, actor: StaffUser, interaction_id: str, at: datetime | None = None,
                        *, live: bool = False) -> CheckIn:
        """End the visit (a button or a second location: now; a live location: its last update).

        A live location's later updates move the check-out on; otherwise a visit ends once.
        """
        interaction, customer = await self._visit(actor, interaction_id)
        if interaction.check_in is None:
            raise AccessDenied(f"visit {interaction_id} not checked in")
        when = at or self.clock.now()

        def apply(record: Interaction) -> Interaction | None:
            if record.check_in is None or record.deleted:
                raise AccessDenied(f"visit {interaction_id} not checked in")
            if live and not record.check_in.live:
                return None  # checked out by hand: the live location no longer moves the end
            if record.checked_out_at is not None and not live and not record.check_in.live:
                return None  # already checked out: pressing again changes nothing
            # a check-out by hand ends a live visit for good: later updates no longer count
            point = record.check_in if live else dataclasses.replace(record.check_in, live=False)
            return dataclasses.replace(record, check_in=point, checked_out_at=max(when, record.check_in.at),
                                       updated_at=self.clock.now())

        before, saved = await update_or_refuse(self.store.interactions, interaction_id, apply,
                                               what=f"interaction {interaction_id}")
        if saved is not before and before.checked_out_at is None:
            await self.audit.record_change(actor.id, "check_out", "interaction", before, saved)
        return CheckIn(saved, customer, self._far(saved.check_in_distance_m))

    async def live_visit(self, actor: StaffUser) -> Interaction | None:
        """The actor's latest visit checked in with a live location within the visit window."""
        now = self.clock.now()
        for interaction in await self.store.interactions.find(
            {"owner_id": actor.id, "deleted": False}, order_by="occurred_at", descending=True, limit=10,
        ):
            point = interaction.check_in
            if interaction.kind is InteractionKind.VISIT and point is not None:
                return interaction if point.live and now - point.at <= VISIT_WINDOW else None
        return None

    async def set_customer_location(self, actor: StaffUser, customer_id: str, point: GeoPoint) -> Customer:
        """The customer's saved location, from a location the rep sent on the card."""
        customer = await self.customers.visible(actor, customer_id)
        if not access.can_edit_customer(actor, customer):
            raise AccessDenied(f"set location of {customer_id}")
        return await self._set_location(actor, customer.id, dataclasses.replace(point, live=False))

    async def _set_location(self, actor: StaffUser, customer_id: str, point: GeoPoint,
                            *, only_if_empty: bool = False) -> Customer:
        def apply(customer: Customer) -> Customer | None:
            if only_if_empty and customer.location is not None:
                return None
            return dataclasses.replace(customer, location=point, updated_at=self.clock.now())

        before, saved = await update_or_refuse(self.store.customers, customer_id, apply,
                                               what=f"customer {customer_id}")
        if saved is not before:
            await self.audit.record_change(actor.id, "set_location", "customer", before, saved)
        return saved

    async def reps(self, actor: StaffUser) -> list[StaffUser]:
        """Whose visits the actor may see (themselves first)."""
        if not access.is_active(actor):
            raise AccessDenied("visits")
        others = [s for s in await self.store.staff.find({"active": True})
                  if s.id != actor.id and access.can_see_visits_of(actor, s)]
        return [actor, *sorted(others, key=lambda s: s.name)]

    async def day(self, actor: StaffUser, rep_id: str, day: date, tz: ZoneInfo) -> list[CheckIn]:
        """``rep_id``'s visits on ``day`` (in ``tz``), in order; the actor must see that rep."""
        rep = await self.store.staff.get(rep_id) if len(rep_id) <= 64 else None
        if rep is None or not access.can_see_visits_of(actor, rep):
            raise AccessDenied(f"visits of {rep_id}")
        start = datetime.combine(day, time(), tz)
        visits = await self.store.interactions.find(
            {"owner_id": rep.id, "deleted": False}, within=Range("occurred_at", start, start + timedelta(days=1)), order_by="occurred_at",
        )
        found = []
        for visit in visits:
            if visit.kind is not InteractionKind.VISIT:
                continue
            customer = await self.store.customers.get(visit.customer_id)
            if customer is not None and access.can_view_customer(actor, customer):
                found.append(CheckIn(visit, customer, self._far(visit.check_in_distance_m)))
        return found
