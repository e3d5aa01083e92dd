"""A deterministic CRM data set: a 50-rep team's customers and two years of interactions.

Everything comes from one seeded ``random.Random``, so two runs (or two
machines) build the same records.  Names are about 70 % Chinese (common
surnames, one- or two-character given names) and 30 % English; phones are
mainland mobile numbers in E.164, a fifth of the customers with a second
one; timestamps spread over the two years before ``NOW``; interactions are
spread over customers unevenly (some customers are called far more often),
with the customer's owner as the rep.  Ids are made like
``bot.domain.models.new_id`` (creation time first), so they are as ordered
as production ids.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.domain.models import (
    Customer,
    Deal,
    Direction,
    Interaction,
    InteractionKind,
    LifecycleStage,
    Outcome,
    Role,
    Source,
    StaffUser,
    ValueTier,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
REPS = 50

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫婷雪慧琳晨浩宇欣怡子涵梓萱一诺"
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Daniel",
    "Lisa",
    "Kevin",
    "Emily",
    "Grace",
    "Lucas",
    "Chloe",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Chan",
    "Wong",
    "Lim",
    "Tan",
    "Ng",
]
CITIES = ("上海", "北京", "深圳", "广州", "杭州", "成都", "南京", "武汉", "Hong Kong", "Singapore")
COMPANIES = (
    "华润",
    "万科",
    "ACME",
    "腾飞科技",
    "Golden Tea",
    "蓝海贸易",
    "Sunrise Ltd",
    None,
    None,
)
TAGS = ("vip", "wholesale", "老客户", "price-sensitive", "tea", "gift", "企业", "referral")
SUMMARIES = (
    "电话回访，客户对上次的茶叶很满意，考虑追加订购。",
    "Called about the quote; wants a discount for 50 boxes.",
    "拜访门店，介绍新品，约下周再谈。",
    "Sent the catalogue on WeChat, no reply yet.",
    "客户反映物流慢，已协调仓库加急。",
    "Meeting at their office: decision after the board meeting.",
)


def make_id(rnd: random.Random, when: datetime) -> str:
    return f"{int(when.timestamp() * 1000):012x}{rnd.getrandbits(32):08x}"


def chinese_name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2, 2))))


def english_name(rnd: random.Random) -> str:
    return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"


def phone(rnd: random.Random) -> str:
    return f"+861{rnd.choice('3456789')}{rnd.randrange(10**9):09d}"


def moment(rnd: random.Random) -> datetime:
    return NOW - SPAN + timedelta(seconds=rnd.randrange(int(SPAN.total_seconds())))


@dataclass
class DataSet:
    """Sizes and seed; the records themselves are generated lazily, in the same order every time."""

    customers: int = 10_000
    interactions: int = 100_000
    seed: int = 20260101

    def staff(self) -> list[StaffUser]:
        rnd = random.Random(self.seed)
        return [
            StaffUser(
                id=str(700_000 + k),
                telegram_id=700_000 + k,
                name=chinese_name(rnd) if k % 3 else english_name(rnd),
                role=Role.MANAGER if k % 10 == 0 else Role.REP,
                teams=[f"team-{k // 10}"],
                created_at=NOW - SPAN,
                updated_at=NOW - SPAN,
            )
            for k in range(REPS)
        ]

    def rep_ids(self) -> list[str]:
        return [str(700_000 + k) for k in range(REPS)]

    def customer_records(self) -> Iterator[Customer]:
        rnd = random.Random(self.seed + 1)
        reps = self.rep_ids()
        for k in range(self.customers):
            created = moment(rnd)
            updated = min(NOW, created + timedelta(days=rnd.randrange(200)))
            phones = [phone(rnd)] + ([phone(rnd)] if rnd.random() < 0.2 else [])
            yield Customer(
                id=make_id(rnd, created),
                name=chinese_name(rnd) if rnd.random() < 0.7 else english_name(rnd),
                owner_id=reps[k % REPS],
                team=f"team-{(k % REPS) // 10}",
                company=rnd.choice(COMPANIES),
                phones=phones,
                city=rnd.choice(CITIES),
                source=rnd.choice(tuple(Source)),
                tags=rnd.sample(TAGS, k=rnd.randrange(3)),
                value_tier=rnd.choice(tuple(ValueTier)),
                stage=rnd.choice(tuple(LifecycleStage)),
                notes=rnd.choice((None, "喜欢绿茶，下午联系", "Prefers email")),
                last_contact_at=updated,
                next_follow_up_at=(updated + timedelta(days=rnd.randrange(1, 60)))
                if rnd.random() < 0.5
                else None,
                created_at=created,
                updated_at=updated,
            )

    def customer_keys(self) -> list[tuple[str, str, list[str]]]:
        """(id, owner, phones) of every customer, without keeping the records."""
        return [(c.id, c.owner_id, c.phones) for c in self.customer_records()]

    def interaction_records(self, keys: list[tuple[str, str, list[str]]]) -> Iterator[Interaction]:
        rnd = random.Random(self.seed + 2)
        weights = [rnd.paretovariate(2.0) for _ in keys]  # some customers are called far more
        picks = rnd.choices(range(len(keys)), weights=weights, k=self.interactions)
        for index in picks:
            cid, owner, _ = keys[index]
            occurred = moment(rnd)
            yield Interaction(
                id=make_id(rnd, occurred),
                customer_id=cid,
                owner_id=owner,
                kind=rnd.choice(tuple(InteractionKind)),
                occurred_at=occurred,
                direction=rnd.choice(tuple(Direction)),
                outcome=rnd.choice(tuple(Outcome)),
                summary=rnd.choice(SUMMARIES),
                next_follow_up_at=occurred + timedelta(days=7) if rnd.random() < 0.2 else None,
                created_at=occurred,
                updated_at=occurred,
            )

    def new_interaction(
        self, rnd: random.Random, keys: list[tuple[str, str, list[str]]]
    ) -> Interaction:
        """A fresh interaction (for timing inserts), logged now for a random customer."""
        cid, owner, _ = keys[rnd.randrange(len(keys))]
        return Interaction(
            id=make_id(rnd, NOW),
            customer_id=cid,
            owner_id=owner,
            kind=InteractionKind.CALL,
            occurred_at=NOW,
            outcome=Outcome.REACHED,
            summary=rnd.choice(SUMMARIES),
            next_follow_up_at=NOW + timedelta(days=7),
            created_at=NOW,
            updated_at=NOW,
        )


def deal_records(customers: list[tuple[str, str, str | None]], count: int, *, now: datetime,
                 seed: int = 18) -> list[Deal]:
    """``count`` deals over ``(customer id, owner id, team)``: created over the 120 days before
    ``now``; about 15 % won and 10 % lost (closed 5-90 days after creation, before ``now``), the
    rest open in the default stages, with close dates from a month back to three months ahead;
    5 % in USD."""
    from bot.domain import deals as rules

    rnd = random.Random(seed)
    pipeline = rules.Pipeline(tuple(rules.Stage(code, code, code, p, s) for code, p, s in zip(
        rules.STAGES, rules.PROBABILITIES, rules.STUCK_DAYS, strict=True)))
    found = []
    for _ in range(count):
        customer_id, owner_id, team = rnd.choice(customers)
        created = now - timedelta(days=rnd.uniform(0, 120))
        roll = rnd.random()
        stage = rules.WON if roll < 0.15 else rules.LOST if roll < 0.25 else rnd.choice(pipeline.open_stages)
        deal = Deal(
            id=make_id(rnd, created), customer_id=customer_id, owner_id=owner_id, team=team,
            title=f"Deal {rnd.randrange(10_000)}", amount=Decimal(rnd.randrange(1_000, 500_000)),
            currency="USD" if rnd.random() < 0.05 else "CNY", stage=pipeline.open_stages[0].code,
            probability=pipeline.open_stages[0].probability,
            expected_close_on=(now + timedelta(days=rnd.uniform(-30, 90))).date(),
            stage_changed_at=created, created_at=created, updated_at=created,
        )
        if stage is not pipeline.open_stages[0]:
            moved = min(created + timedelta(days=rnd.uniform(5, 90)), now)
            deal = rules.move(deal, stage, now=moved, today=moved.date(), by=owner_id)
        found.append(deal)
    return found
