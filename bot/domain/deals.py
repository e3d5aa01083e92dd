"""Deals (商机): the pipeline's stages, quick entry, stage moves, weighted totals, nudges.

Plain functions over ``Deal`` records and a ``Pipeline`` (built once from
``[deals]`` in config.toml).  The open stages are configurable; ``won``
(赢单, 100 %) and ``lost`` (输单, 0 %) always close the pipeline.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.domain.dates import parse_when
from bot.domain.models import CLOSED_STAGES, LOST_STAGE, WON_STAGE, Deal, StageChange
from bot.domain.money import parse_money
from bot.domain.validation import INPUT_MAX, ValidationError, nfkc, one_line

TITLE_MAX = 200
CLOSE_MAX_YEARS = 5
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
NUDGE_OVERDUE, NUDGE_STUCK = "overdue", "stuck"
CLOSES_TODAY = "today"  # the daily agenda's third reason: the close date is today


# The defaults of ``[deals]`` (config.toml documents and overrides them).
STAGES = ("prospecting", "qualification", "proposal", "negotiation")
NAMES = ("初步接洽|Prospecting", "需求确认|Qualification", "方案报价|Proposal", "商务谈判|Negotiation")
PROBABILITIES = (10, 30, 60, 80)
STUCK_DAYS = (14, 14, 10, 7)
ALIASES = ("prospecting=接洽|初步|线索|lead|prospect", "qualification=需求|确认|qualify|qualified",
           "proposal=报价|方案|quote|quoted", "negotiation=谈判|商务|negotiate|negotiating")
LOST_REASONS = ("价格太高|Price too high", "选择了竞争对手|Chose a competitor", "没有预算|No budget",
                "需求取消|Need went away", "联系不上|Went silent", "其他|Other")


@dataclass(frozen=True)
class Stage:
    code: str
    zh: str
    en: str
    probability: int
    stuck_days: int = 0  # 0: never stuck
    aliases: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


WON = Stage(WON_STAGE, "赢单", "Won", 100, 0, ("赢", "成交", "签约", "win", "closed won"))
LOST = Stage(LOST_STAGE, "输单", "Lost", 0, 0, ("输", "丢单", "lose", "closed lost"))


@dataclass(frozen=True)
class Pipeline:
    """The open stages in order, then won and lost; the reasons a lost deal may be given."""

    open_stages: tuple[Stage, ...]
    lost_reasons: tuple[tuple[str, str], ...] = ()  # (中文, English)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return (*self.open_stages, WON, LOST)

    def stage(self, code: str) -> Stage | None:
        return next((s for s in self.stages if s.code == code), None)

    def name(self, code: str, language: str) -> str:
        found = self.stage(code)
        return found.name(language) if found else code

    def match(self, word: str) -> Stage | None:
        """The stage a typed word names: its code, a name in either language, or an alias."""
        key = one_line(nfkc(word)).lower()
        if not key:
            return None
        for stage in self.stages:
            if key in (stage.code, stage.zh.lower(), stage.en.lower(), *(a.lower() for a in stage.aliases)):
                return stage
        return None

    def lost_reason(self, index: int, language: str) -> str | None:
        if not 0 <= index < len(self.lost_reasons):
            return None
        zh, en = self.lost_reasons[index]
        return zh if language == "zh" else en


def _pair(text: str, what: str) -> tuple[str, str]:
    zh, sep, en = text.partition("|")
    if not sep or not zh.strip() or not en.strip():
        raise ValueError(f"{what} {text!r} must be written \"中文|English\"")
    return zh.strip(), en.strip()


def build_pipeline(stages: Sequence[str], names: Sequence[str], probabilities: Sequence[int],
                   stuck_days: Sequence[int], aliases: Sequence[str], lost_reasons: Sequence[str]) -> Pipeline:
    """The pipeline ``[deals]`` describes; ValueError naming what is wrong."""
    if not 1 <= len(stages) <= 10:
        raise ValueError("stages: between 1 and 10 open stages")
    for other, what in ((names, "names"), (probabilities, "probabilities"), (stuck_days, "stuck_days")):
        if len(other) != len(stages):
            raise ValueError(f"{what} must have one entry per stage ({len(stages)})")
    alias_of: dict[str, list[str]] = {code: [] for code in stages}
    for entry in aliases:
        code, sep, words = entry.partition("=")
        if not sep or code.strip() not in alias_of:
            raise ValueError(f"aliases: {entry!r} must be \"<stage>=word|word\" of a stage in stages")
        alias_of[code.strip()].extend(w.strip() for w in words.split("|") if w.strip())
    built = []
    for code, name, probability, stuck in zip(stages, names, probabilities, stuck_days, strict=True):
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,19}", code) or code in CLOSED_STAGES:
            raise ValueError(f"stages: {code!r} must be a short lower-case code, not won or lost")
        if not 0 <= probability <= 100:
            raise ValueError(f"probabilities: {probability} must be 0-100")
        if not 0 <= stuck <= 365:
            raise ValueError(f"stuck_days: {stuck} must be 0-365")
        zh, en = _pair(name, "names:")
        built.append(Stage(code, zh, en, probability, stuck, tuple(alias_of[code])))
    if len({s.code for s in built}) != len(built):
        raise ValueError("stages: a stage is named twice")
    reasons = tuple(_pair(r, "lost_reasons:") for r in lost_reasons)
    if not 1 <= len(reasons) <= 12:
        raise ValueError("lost_reasons: between 1 and 12 reasons")
    return Pipeline(tuple(built), reasons)


# ---- figures ----------------------------------------------------------------------------------
def weighted(deal: Deal) -> Decimal:
    """amount × probability, to the cent."""
    return (deal.amount * deal.probability / HUNDRED).quantize(CENT)


@dataclass
class StageGroup:
    stage: Stage
    deals: list[Deal] = field(default_factory=list)
    total: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount
    weighted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.deals)


def _add(totals: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, Decimal(0)) + amount


def by_stage(deals: Iterable[Deal], pipeline: Pipeline, *, include_closed: bool = False) -> list[StageGroup]:
    """Deals grouped by stage in pipeline order (empty stages too), each with count and totals;
    within a stage the deal closing soonest first."""
    stages = pipeline.stages if include_closed else pipeline.open_stages
    groups = {s.code: StageGroup(s) for s in stages}
    for deal in deals:
        group = groups.get(deal.stage)
        if group is None:
            continue  # a stage no longer configured: listed nowhere rather than guessed
        group.deals.append(deal)
        _add(group.total, deal.currency, deal.amount)
        _add(group.weighted, deal.currency, weighted(deal))
    for group in groups.values():
        group.deals.sort(key=lambda d: (d.expected_close_on or date.max, d.id))
    return list(groups.values())


def totals(groups: Iterable[StageGroup]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The sum of every group's total and weighted total, per currency."""
    total: dict[str, Decimal] = {}
    weight: dict[str, Decimal] = {}
    for group in groups:
        for currency, amount in group.total.items():
            _add(total, currency, amount)
        for currency, amount in group.weighted.items():
            _add(weight, currency, amount)
    return total, weight


# ---- stage moves --------------------------------------------------------------------------------
def move(deal: Deal, stage: Stage, *, now: datetime, today: date, by: str | None,
         lost_reason: str | None = None) -> Deal:
    """The deal in ``stage``: its default probability, the history, won/lost dates, open or not.

    Moving to the stage it is in changes nothing (the same record is returned)."""
    if stage.code == deal.stage and lost_reason == deal.lost_reason:
        return deal
    closed = stage.code in CLOSED_STAGES
    return dataclasses.replace(
        deal, stage=stage.code, probability=stage.probability, open=not closed,
        stage_changed_at=now, stage_history=[*deal.stage_history, StageChange(stage=stage.code, at=now, by=by)],
        won_on=today if stage.code == WON_STAGE else None,
        lost_on=today if stage.code == LOST_STAGE else None,
        lost_reason=lost_reason if stage.code == LOST_STAGE else None,
        closed_at=now if closed else None, updated_at=now,
    )


def cycle_days(deal: Deal) -> float | None:
    """Days from creation to close (won or lost); None while open."""
    if deal.closed_at is None:
        return None
    return max((deal.closed_at - deal.created_at).total_seconds(), 0) / 86400


def last_moved(deal: Deal) -> datetime:
    return deal.stage_changed_at or deal.created_at


def nudge(deal: Deal, pipeline: Pipeline, *, now: datetime, today: date) -> str | None:
    """Why the owner should look at an open deal: its close date passed, or it is stuck in its
    stage for longer than that stage's ``stuck_days``; None when neither."""
    if not deal.open:
        return None
    if deal.expected_close_on is not None and deal.expected_close_on < today:
        return NUDGE_OVERDUE
    stage = pipeline.stage(deal.stage)
    if stage is not None and stage.stuck_days and now - last_moved(deal) >= timedelta(days=stage.stuck_days):
        return NUDGE_STUCK
    return None


@dataclass(frozen=True)
class Attention:
    """An open deal on its owner's daily agenda, and why: ``reason`` is ``CLOSES_TODAY``,
    ``NUDGE_OVERDUE`` (``days`` past the close date) or ``NUDGE_STUCK`` (``days`` not moved)."""

    deal: Deal
    reason: str
    days: int = 0


def attention(deal: Deal, pipeline: Pipeline, *, now: datetime, today: date) -> Attention | None:
    """Why an open deal belongs on the agenda of ``today``: it closes today, or ``nudge`` says so."""
    if deal.open and deal.expected_close_on == today:
        return Attention(deal, CLOSES_TODAY)
    reason = nudge(deal, pipeline, now=now, today=today)
    if reason == NUDGE_OVERDUE and deal.expected_close_on is not None:
        return Attention(deal, reason, (today - deal.expected_close_on).days)
    if reason == NUDGE_STUCK:
        return Attention(deal, reason, (now - last_moved(deal)).days)
    return None


def needing_attention(deals: Iterable[Deal], pipeline: Pipeline, *, now: datetime, today: date) -> list[Attention]:
    """The deals ``attention`` picks, closing today first, then the longest overdue, then the longest stuck."""
    found = [a for d in deals if (a := attention(d, pipeline, now=now, today=today)) is not None]
    order = {CLOSES_TODAY: 0, NUDGE_OVERDUE: 1, NUDGE_STUCK: 2}
    return sorted(found, key=lambda a: (order[a.reason], -a.days, a.deal.id))


def nudge_key(deal: Deal, reason: str) -> str:
    """One nudge per deal, reason and state: a new one once the deal moved or its date changed."""
    if reason == NUDGE_OVERDUE:
        return f"deal_nudge:{deal.id}:overdue:{deal.expected_close_on}"
    return f"deal_nudge:{deal.id}:stuck:{deal.stage}:{last_moved(deal).date().isoformat()}"


# ---- typed input --------------------------------------------------------------------------------
def parse_title(text: str) -> str:
    cleaned = " ".join(one_line(nfkc(text)).split())
    if not cleaned:
        raise ValidationError("title", "text.empty")
    if len(cleaned) > TITLE_MAX:
        raise ValidationError("title", "text.too_long", max_length=TITLE_MAX, length=len(cleaned))
    return cleaned


def parse_probability(text: str) -> int:
    raw = one_line(nfkc(text)).strip().rstrip("%").strip()
    if not re.fullmatch(r"\d{1,3}", raw) or int(raw) > 100:
        raise ValidationError("probability", "deal.probability")
    return int(raw)


def parse_products(text: str) -> list[str]:
    items = [" ".join(p.split()) for p in re.split(r"[,，、;；\n]", nfkc(text))]
    items = [p for p in items if p]
    if not items:
        raise ValidationError("products", "text.empty")
    if len(items) > 20 or any(len(p) > 200 for p in items):
        raise ValidationError("products", "text.too_long", max_length=200, length=max(len(p) for p in items))
    return items


_MONTH_END = {
    "月底": 0, "本月底": 0, "这个月底": 0, "月末": 0, "本月末": 0, "end of month": 0, "end of the month": 0,
    "end of this month": 0, "this month end": 0, "month end": 0,
    "下月底": 1, "下个月底": 1, "下月末": 1, "下个月末": 1, "end of next month": 1, "next month end": 1,
    "下下月底": 2, "下下个月底": 2,
}
_QUARTER_END = {"季度末": 0, "本季度末": 0, "季末": 0, "end of quarter": 0, "end of this quarter": 0,
                "end of the quarter": 0, "下季度末": 1, "end of next quarter": 1}
_YEAR_END = {"年底": 0, "今年底": 0, "年末": 0, "end of year": 0, "end of the year": 0, "end of this year": 0,
             "明年底": 1, "end of next year": 1}
_ISO_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?")


def _month_end(today: date, months_ahead: int) -> date:
    month_index = today.month - 1 + months_ahead
    year, month = today.year + month_index // 12, month_index % 12 + 1
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_close_date(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """The expected close date: "下月底", "end of next month", "季度末", "2026-03-31", "3月31日",
    "next Friday", "in 2 weeks".  A day already past is returned as it is: the caller asks
    to confirm it (a rep recording a deal late); more than five years ahead is refused."""
    raw = " ".join(one_line(nfkc(text)).lower().split())
    if not raw:
        raise ValidationError("expected_close_on", "text.empty")
    if len(raw) > INPUT_MAX:
        raise ValidationError("expected_close_on", "date.unrecognised")
    today = now.astimezone(tz).date()
    day: date | None = None
    if raw in _MONTH_END:
        day = _month_end(today, _MONTH_END[raw])
    elif raw in _QUARTER_END:
        quarter_last_month = (today.month - 1) // 3 * 3 + 3
        day = _month_end(today, quarter_last_month - today.month + 3 * _QUARTER_END[raw])
    elif raw in _YEAR_END:
        day = date(today.year + _YEAR_END[raw], 12, 31)
    elif (iso := _ISO_DATE.fullmatch(raw.replace(" ", ""))) is not None:
        try:
            day = date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            raise ValidationError("expected_close_on", "date.invalid") from None
    else:
        try:
            day = parse_when(raw, now=now, tz=tz).astimezone(tz).date()
        except ValidationError as error:
            if error.reason_code in ("date.too_far", "date.invalid"):
                raise ValidationError("expected_close_on", error.reason_code, **error.params) from None
            if error.reason_code != "date.in_past":
                raise ValidationError("expected_close_on", "date.unrecognised") from None
            day = today  # earlier today
    if day > today + timedelta(days=366 * CLOSE_MAX_YEARS):
        raise ValidationError("expected_close_on", "date.too_far", max_years=CLOSE_MAX_YEARS)
    if day.year < today.year - 10:
        raise ValidationError("expected_close_on", "date.out_of_range", min_year=today.year - 10,
                              max_year=today.year + CLOSE_MAX_YEARS)
    return day


@dataclass(frozen=True)
class QuickDeal:
    """What ``/deal <customer> <title> <amount> [stage] [close date]`` said after the customer's
    name (the caller matches that first): the title ("" when none), amount, stage, close date."""

    title: str
    amount: Decimal
    currency: str | None
    stage: str
    expected_close_on: date | None


_AMOUNT_LIKE = re.compile(r"^[-+−(]?\s*(?:[¥$€£]|rmb|usd|cny|hk\$)?\s*[-+]?\d", re.IGNORECASE)
_CN_AMOUNT = re.compile(r"^[零〇一二两三四五六七八九十百千万萬亿億]*[万萬千亿億百][零〇一二两三四五六七八九十百千万萬亿億]*[元块]?$")


_DATE_LIKE = re.compile(r"^\d{4}[-/.年]\d{1,2}|^\d{1,2}[/月]\d{1,2}|^\d{1,2}(?:号|日|am|pm|点)$", re.IGNORECASE)


def _amount_token(word: str) -> bool:
    if _DATE_LIKE.match(word):
        return False
    return bool(_AMOUNT_LIKE.match(word) or _CN_AMOUNT.match(word) and len(word) > 1)


def parse_quick_deal(text: str, pipeline: Pipeline, *, now: datetime, tz: ZoneInfo) -> QuickDeal:
    """``CRM Pro 5万 报价 下月底`` / ``CRM Pro 50k quote end of next month``: what follows the
    customer's name in ``/deal 张伟 CRM Pro 5万 报价 下月底``.

    The amount is the first word that looks like one (digits, "5万", "¥3000"); a bad one
    ("-5", "1e308", "五万五") is refused with its reason, never skipped.  After it: the stage
    (a name or alias, the first stage by default) and the close date, in either order.
    """
    cleaned = " ".join(one_line(nfkc(text)).split())
    if not cleaned:
        raise ValidationError("amount", "deal.no_amount")
    if len(cleaned) > 300:
        raise ValidationError("deal", "text.too_long", max_length=300, length=len(cleaned))
    words = cleaned.split(" ")
    at = next((i for i, w in enumerate(words) if _amount_token(w)), None)
    if at is None:
        raise ValidationError("amount", "deal.no_amount")
    word = words[at]
    if _CN_AMOUNT.match(word) or re.search(r"\d[eE][-+]?\d", word):
        raise ValidationError("amount", "amount.not_a_number")
    money = parse_money(word)
    rest = words[at + 1:]
    stage = pipeline.open_stages[0]
    for i, w in enumerate(rest):
        found = pipeline.match(w)
        if found is not None:
            stage = found
            rest = rest[:i] + rest[i + 1:]
            break
    close = parse_close_date(" ".join(rest), now=now, tz=tz) if rest else None
    title = " ".join(words[:at])
    if len(title) > TITLE_MAX:
        raise ValidationError("title", "text.too_long", max_length=TITLE_MAX, length=len(title))
    return QuickDeal(title, money.amount, money.currency, stage.code, close)
