"""Festivals (节日): the calendar of care moments that produce greeting drafts.

A festival is a fixed day on the solar (Gregorian) or the Chinese lunar
calendar, plus one special rule: 除夕, lunar new year's eve, which is the
*last* day of the twelfth lunar month — the 29th or the 30th depending on the
year (2025–2029 have no 年三十) — and so cannot be written as a fixed lunar
date.  It is computed as "the day before 春节".

Each festival has a lead time (``lead_days``): the rep is reminded that many
days *before* the festival, so there is time to prepare a gift or a message;
an audience (``applies_to``: everybody, or customers with given tags, gender
or industry — 妇女节 for women, 教师节 for teachers); and the name of the
greeting template the reminder renders.

The calendar is data, not code: ``bot/festivals.default.toml`` holds China's
set and a deployment can point at its own file.  :func:`load_festivals` is the
one function here that does I/O; everything else is a pure function of its
arguments (the date is always passed in, never read from a clock).

Lunar dates come from ``lunar-python`` (MIT, 6tail), which computes the
calendar astronomically for any year; the tests cross-check it against
``lunardate`` and a hand-made reference table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lunar_python import LunarMonth, Solar

from bot.domain.models import CalendarKind, Customer, Gender

DEFAULT_CALENDAR_RESOURCE = "festivals.default.toml"  # package data of ``bot``
MAX_LEAD_DAYS = 60

# ---------------------------------------------------------------------------
# Lunar calendar helpers (shared with ``birthdays``)
# ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def lunar_month_span(year: int, month: int, leap: bool = False) -> tuple[date, int] | None:
    """First Gregorian day and length (29 or 30) of lunar ``month`` of lunar ``year``.

    ``leap`` asks for the intercalary month (闰月) that follows ``month``;
    ``None`` means the year has no such leap month.  Cached: lunar-python
    recomputes a whole year's new moons on every call, and the scheduler asks
    about the same few months every day.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"lunar month must be 1-12, got {month}")
    lunar_month = LunarMonth.fromYm(year, -month if leap else month)
    if lunar_month is None:
        return None
    first = Solar.fromJulianDay(lunar_month.getFirstJulianDay())
    return date(first.getYear(), first.getMonth(), first.getDay()), lunar_month.getDayCount()


def lunar_to_solar(year: int, month: int, day: int, *, leap: bool = False) -> date:
    """The Gregorian date of a lunar date, *forgiving* the two anniversary gaps.

    - day 30 of a month that has only 29 days this year → the 29th (its last day);
    - a leap month this year does not have → the regular month of that number.

    Both are what people do with a birthday or festival that "does not exist"
    in a given year: keep it in the same month rather than skip the year.
    """
    if not 1 <= day <= 30:
        raise ValueError(f"lunar day must be 1-30, got {day}")
    span = lunar_month_span(year, month, leap) if leap else None
    if span is None:
        span = lunar_month_span(year, month, False)
        assert span is not None  # every lunar year has the twelve regular months
    first, length = span
    return first + timedelta(days=min(day, length) - 1)


def spring_festival(year: int) -> date:
    """春节, the first day of the lunar year that begins in Gregorian ``year``."""
    return lunar_to_solar(year, 1, 1)


def solar_anniversary(year: int, month: int, day: int) -> date:
    """``date(year, month, day)`` except that 29 February becomes 28 February in common years."""
    if month == 2 and day == 29 and not _is_leap_year(year):
        return date(year, 2, 28)
    return date(year, month, day)


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


class FestivalRule(StrEnum):
    """How a festival's date is found: a fixed month/day, or a special rule."""

    FIXED = "fixed"
    LUNAR_NEW_YEARS_EVE = "lunar_new_years_eve"  # 除夕: the day before 春节


@dataclass(frozen=True)
class Audience:
    """Who one festival greets.  Every criterion given must hold (AND);
    within a criterion any listed value will do (OR).  Tags and industries
    compare case-insensitively, ignoring surrounding spaces.  An audience
    with no criteria matches everybody.
    """

    tags: tuple[str, ...] = ()
    genders: tuple[Gender, ...] = ()
    industries: tuple[str, ...] = ()

    def matches(self, customer: Customer) -> bool:
        if self.tags:
            wanted = {_fold(tag) for tag in self.tags}
            if not wanted & {_fold(tag) for tag in customer.tags}:
                return False
        if self.genders and customer.gender not in self.genders:
            return False
        if self.industries:
            if customer.industry is None:
                return False
            if _fold(customer.industry) not in {_fold(i) for i in self.industries}:
                return False
        return True


def _fold(text: str) -> str:
    return text.strip().casefold()


@dataclass(frozen=True)
class Festival:
    """One entry of the festival calendar.

    ``month``/``day`` are set for ``FestivalRule.FIXED`` and ``None`` for a
    special rule.  ``applies_to`` is a tuple of audiences of which *any* may
    match (OR); the empty tuple means everybody.  ``template`` names the
    greeting template (by default the key).
    """

    key: str
    names: Mapping[str, str] = field(hash=False)
    calendar: CalendarKind
    month: int | None = None
    day: int | None = None
    rule: FestivalRule = FestivalRule.FIXED
    lead_days: int = 1
    applies_to: tuple[Audience, ...] = ()
    template: str = ""

    def name(self, language: str) -> str:
        """The name in ``language``, else English, else Chinese, else the key."""
        for lang in (language, "en", "zh"):
            if lang in self.names:
                return self.names[lang]
        return self.key

    def applies(self, customer: Customer) -> bool:
        return not self.applies_to or any(a.matches(customer) for a in self.applies_to)


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------


def festival_dates(festival: Festival, year: int) -> list[date]:
    """Every date of ``festival`` in Gregorian ``year``, ascending.

    Exactly one for solar festivals, 除夕 and every lunar festival in months
    1–10.  A lunar date late in the 11th or 12th month can fall either side of
    1 January, so a Gregorian year may hold two of them or none (lunar 12/1 was
    on 11 Jan 2024 *and* 31 Dec 2024, and not at all in 2025).
    """
    if festival.rule == FestivalRule.LUNAR_NEW_YEARS_EVE:
        return [spring_festival(year) - timedelta(days=1)]  # 春节 is 21 Jan–20 Feb
    assert festival.month is not None and festival.day is not None
    if festival.calendar == CalendarKind.SOLAR:
        return [solar_anniversary(year, festival.month, festival.day)]
    candidates = (lunar_to_solar(y, festival.month, festival.day) for y in (year - 1, year))
    return [d for d in candidates if d.year == year]


def occurrences(
    festivals: Sequence[Festival], start: date, end: date
) -> list[tuple[date, Festival]]:
    """Every (date, festival) with ``start <= date <= end``, sorted by date.

    Festivals on the same day keep their calendar order (国庆 and 中秋 were
    both on 1 Oct 2020 and will be again in 2031).
    """
    found: list[tuple[date, int, Festival]] = []
    for index, festival in enumerate(festivals):
        for year in range(start.year, end.year + 1):
            for day in festival_dates(festival, year):
                if start <= day <= end:
                    found.append((day, index, festival))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(day, festival) for day, _, festival in found]


def due_greetings(
    festivals: Sequence[Festival], customers: Iterable[Customer], today: date
) -> list[tuple[Festival, date, list[str]]]:
    """The greetings to prepare ``today``: festivals whose date minus their
    ``lead_days`` is ``today``, each with the ids of the customers it applies
    to (archived customers excluded, input order kept).  Festivals nobody
    matches are left out.  Sorted by festival date, then calendar order.

    The scheduler calls this once per local day; after downtime it calls it
    for each missed day (its reminders carry dedupe keys, so a repeat is free).
    """
    people = [c for c in customers if not c.archived]
    longest = max((f.lead_days for f in festivals), default=0)
    due: list[tuple[Festival, date, list[str]]] = []
    for day, festival in occurrences(festivals, today, today + timedelta(days=longest)):
        if day - timedelta(days=festival.lead_days) != today:
            continue
        ids = [c.id for c in people if festival.applies(c)]
        if ids:
            due.append((festival, day, ids))
    return due


def calendar_lines(festivals: Sequence[Festival], year: int, language: str) -> list[str]:
    """``"YYYY-MM-DD name"`` for every festival in ``year``, by date: ``crm-bot calendar``."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    return [
        f"{day.isoformat()} {f.name(language)}" for day, f in occurrences(festivals, start, end)
    ]


# ---------------------------------------------------------------------------
# Parsing and loading the calendar (TOML)
# ---------------------------------------------------------------------------


class FestivalConfigError(ValueError):
    """The festival calendar is malformed; the message is one line naming entry and field."""


_KEY_RE = re.compile(r"^[a-z0-9_]{1,50}$")
_TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_ENTRY_FIELDS = {
    "key",
    "name",
    "calendar",
    "rule",
    "month",
    "day",
    "lead_days",
    "applies_to",
    "template",
}
_AUDIENCE_FIELDS = {"tags", "gender", "industries"}
REQUIRED_LANGUAGES = ("zh", "en")


def parse_festivals(data: Mapping[str, Any], source: str = "festivals") -> tuple[Festival, ...]:
    """Build and validate the calendar from parsed TOML (``{"festival": [ ... ]}``).

    Every entry is checked — unknown fields included, so a typo like
    ``lead_day`` is an error rather than silently ignored — and the first
    problem raises :class:`FestivalConfigError`:
    ``"<source>: festival #3 'dragon_boat': day: must be an integer 1-30 for a lunar date"``.
    """
    unknown = set(data) - {"festival"}
    if unknown:
        raise FestivalConfigError(
            f"{source}: unknown top-level key {min(unknown)!r} (expected [[festival]] tables)"
        )
    entries = data.get("festival", [])
    if not isinstance(entries, list):
        raise FestivalConfigError(f"{source}: 'festival' must be an array of tables ([[festival]])")
    festivals: list[Festival] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        festival = _parse_entry(entry, f"{source}: festival #{number}")
        if festival.key in seen:
            raise FestivalConfigError(
                f"{source}: festival #{number} {festival.key!r}: key: duplicate key"
            )
        seen.add(festival.key)
        festivals.append(festival)
    return tuple(festivals)


def _parse_entry(entry: Any, where: str) -> Festival:
    if not isinstance(entry, Mapping):
        raise FestivalConfigError(f"{where}: must be a table")
    key = entry.get("key")
    if isinstance(key, str) and key:
        where = f"{where} {key!r}"

    def fail(field_name: str, message: str) -> FestivalConfigError:
        return FestivalConfigError(f"{where}: {field_name}: {message}")

    unknown = set(entry) - _ENTRY_FIELDS
    if unknown:
        raise fail(min(unknown), "unknown field")
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise fail("key", "required; lower-case letters, digits and _ (at most 50)")

    names = entry.get("name")
    if not isinstance(names, Mapping):
        raise fail("name", 'required table of names, e.g. { zh = "…", en = "Spring Festival" }')
    for lang in REQUIRED_LANGUAGES:
        if lang not in names:
            raise fail("name", f"missing the {lang!r} name")
    for lang, text in names.items():
        if not isinstance(text, str) or not text.strip() or len(text) > 100:
            raise fail(f"name.{lang}", "must be non-empty text of at most 100 characters")

    try:
        calendar = CalendarKind(entry.get("calendar"))
    except ValueError:
        raise fail("calendar", 'must be "solar" or "lunar"') from None

    try:
        rule = FestivalRule(entry.get("rule", FestivalRule.FIXED.value))
    except ValueError:
        choices = ", ".join(f'"{r.value}"' for r in FestivalRule)
        raise fail("rule", f"must be one of {choices}") from None

    month = entry.get("month")
    day = entry.get("day")
    if rule is FestivalRule.LUNAR_NEW_YEARS_EVE:
        if calendar is not CalendarKind.LUNAR:
            raise fail("calendar", f'rule "{rule.value}" needs calendar = "lunar"')
        for name, value in (("month", month), ("day", day)):
            if value is not None:
                raise fail(name, f'not allowed with rule "{rule.value}" (the date follows from it)')
    else:
        if not _is_int(month) or not 1 <= month <= 12:
            raise fail("month", "required integer 1-12")
        if calendar is CalendarKind.LUNAR:
            if not _is_int(day) or not 1 <= day <= 30:
                raise fail("day", "required integer 1-30 for a lunar date")
        else:
            if not _is_int(day) or not 1 <= day <= 31:
                raise fail("day", "required integer 1-31 for a solar date")
            try:
                date(2000, month, day)  # a leap year: 29 February is allowed
            except ValueError:
                raise fail("day", f"{month}/{day} is not a date") from None

    lead_days = entry.get("lead_days", 1)
    if not _is_int(lead_days) or not 0 <= lead_days <= MAX_LEAD_DAYS:
        raise fail("lead_days", f"must be an integer 0-{MAX_LEAD_DAYS}")

    template = entry.get("template", key)
    if not isinstance(template, str) or not _TEMPLATE_RE.match(template):
        raise fail("template", "must be a template name (letters, digits, _ . -)")

    applies_to = _parse_applies_to(entry.get("applies_to", "all"), fail)
    return Festival(
        key=key,
        names=dict(names),
        calendar=calendar,
        month=month,
        day=day,
        rule=rule,
        lead_days=lead_days,
        applies_to=applies_to,
        template=template,
    )


def _parse_applies_to(value: Any, fail: Any) -> tuple[Audience, ...]:
    """``"all"``, one audience table, or an array of them (any may match)."""
    if value == "all":
        return ()
    tables = value if isinstance(value, list) else [value]
    if not tables:
        raise fail("applies_to", 'an empty list matches nobody; write "all" for everybody')
    audiences = []
    for table in tables:
        if not isinstance(table, Mapping):
            raise fail("applies_to", '"all", a table { tags / gender / industries }, or a list')
        unknown = set(table) - _AUDIENCE_FIELDS
        if unknown:
            raise fail(f"applies_to.{min(unknown)}", "unknown field")
        if not table:
            raise fail("applies_to", 'an empty table; write "all" for everybody')
        tags = _text_list(table.get("tags", []), "applies_to.tags", fail)
        industries = _text_list(table.get("industries", []), "applies_to.industries", fail)
        raw_genders = table.get("gender", [])
        raw_genders = [raw_genders] if isinstance(raw_genders, str) else raw_genders
        if not isinstance(raw_genders, list):
            raise fail("applies_to.gender", "must be a gender or a list of genders")
        try:
            genders = tuple(Gender(g) for g in raw_genders)
        except ValueError:
            choices = ", ".join(g.value for g in Gender)
            raise fail("applies_to.gender", f"must be one of {choices}") from None
        if not (tags or industries or genders):
            raise fail("applies_to", "lists nobody; give tags, gender or industries")
        audiences.append(Audience(tags=tags, genders=genders, industries=industries))
    return tuple(audiences)


def _text_list(value: Any, field_name: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(field_name, "must be a list of non-empty strings")
    return tuple(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def load_festivals(path: str | Path | None = None) -> tuple[Festival, ...]:
    """Read and validate a festival calendar: ``path``, or the packaged default.

    The only function of ``bot.domain`` that touches the file system.  The
    default is ``bot/festivals.default.toml``, read through
    ``importlib.resources`` so it works from a wheel or a zip as well.
    """
    if path is None:
        source = f"bot/{DEFAULT_CALENDAR_RESOURCE}"
        text = resources.files("bot").joinpath(DEFAULT_CALENDAR_RESOURCE).read_text("utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise FestivalConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FestivalConfigError(f"{source}: invalid TOML: {exc}") from None
    return parse_festivals(data, source)
