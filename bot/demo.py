"""Demo data: a small sales team with customers and two years of history.

Deterministic (seeded) so that a demo, a screenshot or a bug report looks
the same every time. Times are relative to the clock given, so follow-ups
are due "tomorrow" whenever the demo is started.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.domain.classification import classify
from bot.domain.models import (
    AuditEvent,
    Birthday,
    CalendarKind,
    Customer,
    Direction,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Gender,
    Interaction,
    InteractionKind,
    NeedsType,
    Outcome,
    Purchase,
    Role,
    Severity,
    Source,
    StaffUser,
)
from storage.base import Store


@dataclass(frozen=True)
class DemoPerson:
    telegram_id: int
    name: str
    role: Role
    language: str


ADMIN = DemoPerson(1001, "Admin Zhou 周", Role.ADMIN, "zh")
MANAGER = DemoPerson(1002, "Manager Chen 陈经理", Role.MANAGER, "zh")
REP_WANG = DemoPerson(1003, "Rep Wang 王芳", Role.REP, "zh")
REP_SMITH = DemoPerson(1004, "Rep Anna Smith", Role.REP, "en")
TEAM = "east"
DEMO_STAFF = (ADMIN, MANAGER, REP_WANG, REP_SMITH)

_CUSTOMERS = [
    # name, gender, company, industry, city, phone, tags, needs
    ("张伟", Gender.MALE, "华东贸易有限公司", "wholesale", "上海", "+8613800138000", ["vip"], NeedsType.QUALITY),
    ("李娜", Gender.FEMALE, "明日科技", "software", "杭州", "+8613912345678", ["tech"], NeedsType.SERVICE),
    ("王强", Gender.MALE, "强盛建材", "construction", "南京", "+8613700001111", [], NeedsType.PRICE),
    ("刘洋", Gender.MALE, "洋帆物流", "logistics", "苏州", "+8615800002222", ["logistics"], NeedsType.PRICE),
    ("陈静", Gender.FEMALE, "静心茶业", "food", "杭州", "+8618600003333", ["tea", "vip"], NeedsType.QUALITY),
    ("赵敏", Gender.FEMALE, "敏捷咨询", "consulting", "上海", "+8613600004444", [], NeedsType.SERVICE),
    ("John Miller", Gender.MALE, "Miller Imports", "wholesale", "Shanghai", "+8613500005555", ["export"], NeedsType.PRICE),
    ("Emma Brown", Gender.FEMALE, "Brown & Co", "retail", "Suzhou", "+8613400006666", [], NeedsType.QUALITY),
    ("孙磊", Gender.MALE, "磊落机械", "manufacturing", "无锡", "+8613300007777", ["machinery"], NeedsType.QUALITY),
    ("周婷", Gender.FEMALE, "婷美服饰", "retail", "宁波", "+8613200008888", [], NeedsType.SERVICE),
    ("Lucas Wang", Gender.MALE, "Bright Solar", "energy", "Shanghai", "+8613100009999", ["solar"], NeedsType.SERVICE),
    ("吴芳", Gender.FEMALE, "芳华教育", "education", "南京", "+8615000001234", [], NeedsType.PRICE),
]
_PRODUCTS = [("CRM Pro licence", "3999"), ("Support plan", "1200"), ("Training day", "2500"),
             ("Hardware kit", "860")]


async def load_demo(store: Store, clock: Clock, timezone: str = "Asia/Shanghai") -> None:
    """Fill an empty store with the demo team and their customers."""
    rng = random.Random(20261122)
    now = clock.now()
    tz = ZoneInfo(timezone)
    for person in DEMO_STAFF:
        await store.staff.insert(
            StaffUser(
                id=StaffUser.id_for(person.telegram_id),
                telegram_id=person.telegram_id,
                name=person.name,
                role=person.role,
                teams=[TEAM],
                language=person.language,
                timezone=timezone,
                created_at=now - timedelta(days=800),
                updated_at=now - timedelta(days=800),
            )
        )
    reps = [REP_WANG, REP_SMITH]
    for index, (name, gender, company, industry, city, phone, tags, needs) in enumerate(_CUSTOMERS):
        owner = reps[index % 2]
        created = now - timedelta(days=rng.randint(30, 720))
        birthday = (
            Birthday(calendar=CalendarKind.LUNAR, month=rng.randint(1, 12), day=rng.randint(1, 28))
            if index % 3 == 0
            else Birthday(calendar=CalendarKind.SOLAR, year=rng.randint(1965, 1995),
                          month=rng.randint(1, 12), day=rng.randint(1, 28))
        )
        customer = Customer(
            name=name, owner_id=str(owner.telegram_id), team=TEAM, gender=gender,
            birthday=birthday, company=company, industry=industry, city=city, phones=[phone],
            tags=tags, needs_type=needs, source=rng.choice(list(Source)),
            created_by=str(owner.telegram_id), created_at=created, updated_at=created,
        )
        interactions, purchases = _history(rng, customer, now, tz)
        if interactions:
            customer.last_contact_at = max(i.occurred_at for i in interactions)
        if index % 4 != 3:  # most customers have a follow-up planned in the next days
            day = (now.astimezone(tz) + timedelta(days=index % 5 + 1)).date()
            customer.next_follow_up_at = datetime.combine(day, time(10, 0), tz)
        result = classify(customer, purchases, interactions, now.astimezone(tz))
        customer.value_tier, customer.stage = result.derived_tier, result.derived_stage
        await store.customers.insert(customer)
        await store.interactions.insert_many(interactions)
        await store.purchases.insert_many(purchases)
        await store.audit.insert(
            AuditEvent(actor_id=customer.owner_id, action="create", entity_type="customer",
                       entity_id=customer.id, at=created, note="demo data",
                       created_at=created, updated_at=created)
        )
        if index in (2, 5):
            await store.feedback.insert(
                Feedback(
                    customer_id=customer.id, owner_id=customer.owner_id,
                    kind=FeedbackKind.COMPLAINT if index == 2 else FeedbackKind.SUGGESTION,
                    severity=Severity.HIGH if index == 2 else Severity.LOW,
                    content="交货延迟了一周" if index == 2 else "希望增加月度对账单",
                    status=FeedbackStatus.OPEN, csat=2 if index == 2 else 4,
                    due_at=now + timedelta(days=1),
                    created_at=now - timedelta(days=2), updated_at=now - timedelta(days=2),
                )
            )


def _history(
    rng: random.Random, customer: Customer, now: datetime, tz: ZoneInfo
) -> tuple[list[Interaction], list[Purchase]]:
    interactions: list[Interaction] = []
    purchases: list[Purchase] = []
    moment = customer.created_at
    while True:
        moment += timedelta(days=rng.randint(7, 60), hours=rng.randint(0, 8))
        if moment >= now:
            break
        interactions.append(
            Interaction(
                customer_id=customer.id, owner_id=customer.owner_id,
                kind=rng.choice([InteractionKind.CALL, InteractionKind.CALL, InteractionKind.VISIT,
                                 InteractionKind.WECHAT, InteractionKind.MEETING]),
                direction=rng.choice([Direction.OUTBOUND, Direction.OUTBOUND, Direction.INBOUND]),
                outcome=rng.choice(list(Outcome)),
                summary=rng.choice(["聊了新报价", "Discussed renewal", "拜访工厂", "Sent a quote",
                                    "介绍了新产品"]),
                occurred_at=moment, created_at=moment, updated_at=moment,
            )
        )
        if rng.random() < 0.3:
            product, amount = rng.choice(_PRODUCTS)
            purchases.append(
                Purchase(
                    customer_id=customer.id, owner_id=customer.owner_id, product=product,
                    amount=Decimal(amount), currency="CNY", quantity=rng.randint(1, 3),
                    purchased_on=moment.astimezone(tz).date(),
                    created_at=moment, updated_at=moment,
                )
            )
    return interactions, purchases
