"""Festival calendar: dates against a hand-made reference table, the TOML loader, due greetings."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.festivals import (
    Audience,
    Festival,
    FestivalConfigError,
    FestivalRule,
    calendar_lines,
    due_greetings,
    festival_dates,
    load_festivals,
    lunar_to_solar,
    occurrences,
    parse_festivals,
)
from bot.domain.models import CalendarKind, Customer, Gender

D = date

# Gregorian dates of the lunar festivals, 2024–2035, written out by hand from the
# Hong Kong Observatory's Gregorian–lunar calendar conversion tables as the author
# knows them (not downloaded), then checked row by row: all 84 dates agree with both
# lunardate 0.3.0 and lunar-python 1.4.8.  They are literals, not computed: they are
# what the code under test must reproduce.  除夕 is 腊月廿九 (a 29-day 12th month) in
# 2025–2029, 2031 and 2032, 年三十 otherwise; 2033's leap month is the 11th (the "2033 problem"),
# which keeps 中秋 on 8 Sep 2033 and 春节 2034 on 19 Feb.
#      year: (除夕,            春节,            元宵,            端午,            七夕,            中秋,            重阳)
# fmt: off
REFERENCE = {
    2024: (D(2024, 2, 9), D(2024, 2, 10), D(2024, 2, 24), D(2024, 6, 10), D(2024, 8, 10), D(2024, 9, 17), D(2024, 10, 11)),
    2025: (D(2025, 1, 28), D(2025, 1, 29), D(2025, 2, 12), D(2025, 5, 31), D(2025, 8, 29), D(2025, 10, 6), D(2025, 10, 29)),
    2026: (D(2026, 2, 16), D(2026, 2, 17), D(2026, 3, 3), D(2026, 6, 19), D(2026, 8, 19), D(2026, 9, 25), D(2026, 10, 18)),
    2027: (D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 20), D(2027, 6, 9), D(2027, 8, 8), D(2027, 9, 15), D(2027, 10, 8)),
    2028: (D(2028, 1, 25), D(2028, 1, 26), D(2028, 2, 9), D(2028, 5, 28), D(2028, 8, 26), D(2028, 10, 3), D(2028, 10, 26)),
    2029: (D(2029, 2, 12), D(2029, 2, 13), D(2029, 2, 27), D(2029, 6, 16), D(2029, 8, 16), D(2029, 9, 22), D(2029, 10, 16)),
    2030: (D(2030, 2, 2), D(2030, 2, 3), D(2030, 2, 17), D(2030, 6, 5), D(2030, 8, 5), D(2030, 9, 12), D(2030, 10, 5)),
    2031: (D(2031, 1, 22), D(2031, 1, 23), D(2031, 2, 6), D(2031, 6, 24), D(2031, 8, 24), D(2031, 10, 1), D(2031, 10, 24)),
    2032: (D(2032, 2, 10), D(2032, 2, 11), D(2032, 2, 25), D(2032, 6, 12), D(2032, 8, 12), D(2032, 9, 19), D(2032, 10, 12)),
    2033: (D(2033, 1, 30), D(2033, 1, 31), D(2033, 2, 14), D(2033, 6, 1), D(2033, 8, 1), D(2033, 9, 8), D(2033, 10, 1)),
    2034: (D(2034, 2, 18), D(2034, 2, 19), D(2034, 3, 5), D(2034, 6, 20), D(2034, 8, 20), D(2034, 9, 27), D(2034, 10, 20)),
    2035: (D(2035, 2, 7), D(2035, 2, 8), D(2035, 2, 22), D(2035, 6, 10), D(2035, 8, 10), D(2035, 9, 16), D(2035, 10, 9)),
}
# fmt: on
REFERENCE_KEYS = (
    "lunar_new_years_eve",
    "spring_festival",
    "lantern_festival",
    "dragon_boat_festival",
    "qixi_festival",
    "mid_autumn_festival",
    "double_ninth_festival",
)
SOLAR_DEFAULTS = {
    "new_year": (1, 1),
    "womens_day": (3, 8),
    "labour_day": (5, 1),
    "teachers_day": (9, 10),
    "national_day": (10, 1),
    "christmas": (12, 25),
}

DEFAULTS = load_festivals()
BY_KEY = {f.key: f for f in DEFAULTS}


def customer(**fields: object) -> Customer:
    fields.setdefault("name", "客户")
    fields.setdefault("owner_id", "rep")
    return Customer(**fields)  # type: ignore[arg-type]


def lunar(key: str, month: int, day: int, **fields: object) -> Festival:
    return Festival(
        key=key,
        names={"zh": key, "en": key},
        calendar=CalendarKind.LUNAR,
        month=month,
        day=day,
        **fields,  # type: ignore[arg-type]
    )


# --- dates -----------------------------------------------------------------


@pytest.mark.parametrize("year", sorted(REFERENCE))
def test_lunar_festivals_match_the_reference_table(year: int) -> None:
    computed = tuple(the_date(BY_KEY[key], year) for key in REFERENCE_KEYS)
    assert computed == REFERENCE[year]


@pytest.mark.parametrize("year", sorted(REFERENCE))
def test_new_years_eve_is_the_day_before_spring_festival(year: int) -> None:
    eve, spring, *_ = REFERENCE[year]
    assert spring - eve == timedelta(days=1)
    assert festival_dates(BY_KEY["lunar_new_years_eve"], year) == [eve]


@pytest.mark.parametrize("year", [2024, 2025, 2031, 2100])
def test_solar_festivals_are_fixed(year: int) -> None:
    for key, (month, day) in SOLAR_DEFAULTS.items():
        assert the_date(BY_KEY[key], year) == date(year, month, day)


def test_eve_is_the_29th_when_the_twelfth_month_is_short() -> None:
    """2025's 除夕 is 腊月廿九: a fixed "12/30" rule would be wrong without the clamp."""
    assert the_date(BY_KEY["lunar_new_years_eve"], 2025) == date(2025, 1, 28)
    assert lunar_to_solar(2024, 12, 29) == date(2025, 1, 28)
    assert lunar_to_solar(2024, 12, 30) == date(2025, 1, 28)  # clamped
    assert lunar_to_solar(2023, 12, 30) == date(2024, 2, 9)  # 2024 has 年三十


def the_date(festival: Festival, year: int) -> date:
    """The one date a festival falls on in ``year`` (China's defaults always have exactly one)."""
    (day,) = festival_dates(festival, year)
    return day


def test_late_winter_lunar_dates_can_fall_twice_or_not_at_all_in_a_year() -> None:
    first_of_twelfth = lunar("la_yue", 12, 1)
    assert festival_dates(first_of_twelfth, 2024) == [date(2024, 1, 11), date(2024, 12, 31)]
    assert festival_dates(first_of_twelfth, 2025) == []
    found = occurrences([first_of_twelfth], date(2024, 1, 1), date(2026, 12, 31))
    assert [d for d, _ in found] == [date(2024, 1, 11), date(2024, 12, 31), date(2026, 1, 19)]


def test_solar_29_february_falls_on_the_28th_in_common_years() -> None:
    leap_day = Festival(key="leap", names={"zh": "闰日", "en": "Leap day"},
                        calendar=CalendarKind.SOLAR, month=2, day=29)  # fmt: skip
    assert the_date(leap_day, 2024) == date(2024, 2, 29)
    assert the_date(leap_day, 2025) == date(2025, 2, 28)


@settings(max_examples=60, deadline=None)
@given(year=st.integers(min_value=1901, max_value=2099))
def test_every_default_festival_falls_exactly_once_a_year_on_its_lunar_date(year: int) -> None:
    from lunar_python import Solar

    for festival in DEFAULTS:
        (day,) = festival_dates(festival, year)
        assert day.year == year
        if festival.calendar is CalendarKind.LUNAR:
            lunar_day = Solar.fromYmd(day.year, day.month, day.day).getLunar()
            if festival.rule is FestivalRule.LUNAR_NEW_YEARS_EVE:
                assert lunar_day.getMonth() == 12 and lunar_day.getDay() in (29, 30)
                tomorrow = Solar.fromYmd(year, day.month, day.day).next(1).getLunar()
                assert (tomorrow.getMonth(), tomorrow.getDay()) == (1, 1)
            else:
                assert (lunar_day.getMonth(), lunar_day.getDay()) == (festival.month, festival.day)


# lunardate (table-based, GPL, test-only) and lunar-python (astronomical, MIT, what
# the bot uses) disagree on four lunar month boundaries in 1900-2099; two of them
# move a default festival.  Documented here so a library update that changes them
# is noticed.
KNOWN_DISAGREEMENTS = {
    (1978, "mid_autumn_festival"): (date(1978, 9, 17), date(1978, 9, 16)),
    (2057, "double_ninth_festival"): (date(2057, 10, 7), date(2057, 10, 6)),
}


def test_cross_check_with_lunardate_1901_to_2099() -> None:
    lunardate = pytest.importorskip("lunardate")
    seen = {}
    for year in range(1901, 2100):
        for festival in DEFAULTS:
            if festival.calendar is not CalendarKind.LUNAR:
                continue
            ours = the_date(festival, year)
            if festival.rule is FestivalRule.LUNAR_NEW_YEARS_EVE:
                theirs = lunardate.LunarDate(year, 1, 1).to_solar_date() - timedelta(days=1)
            else:
                theirs = lunardate.LunarDate(year, festival.month, festival.day).to_solar_date()
            if ours != theirs:
                seen[(year, festival.key)] = (ours, theirs)
    assert seen == KNOWN_DISAGREEMENTS


# --- occurrences, calendar lines --------------------------------------------


def test_calendar_lines_2024_in_chinese() -> None:
    assert calendar_lines(DEFAULTS, 2024, "zh") == [
        "2024-01-01 元旦",
        "2024-02-09 除夕",
        "2024-02-10 春节",
        "2024-02-24 元宵节",
        "2024-03-08 妇女节",
        "2024-05-01 劳动节",
        "2024-06-10 端午节",
        "2024-08-10 七夕",
        "2024-09-10 教师节",
        "2024-09-17 中秋节",
        "2024-10-01 国庆节",
        "2024-10-11 重阳节",
        "2024-12-25 圣诞节",
    ]


def test_calendar_lines_in_english_and_same_day_festivals_keep_calendar_order() -> None:
    lines = calendar_lines(DEFAULTS, 2031, "en")
    assert lines[:3] == [
        "2031-01-01 New Year's Day",
        "2031-01-22 Lunar New Year's Eve",
        "2031-01-23 Spring Festival",
    ]
    assert "2031-10-01 Mid-Autumn Festival" in lines
    index = lines.index("2031-10-01 Mid-Autumn Festival")
    assert lines[index + 1] == "2031-10-01 National Day"
    assert len(lines) == 13


def test_names_fall_back_to_english() -> None:
    assert BY_KEY["spring_festival"].name("fr") == "Spring Festival"


def test_occurrences_are_inclusive_sorted_and_cross_years() -> None:
    found = occurrences(DEFAULTS, date(2024, 12, 25), date(2025, 1, 29))
    assert [(d, f.key) for d, f in found] == [
        (date(2024, 12, 25), "christmas"),
        (date(2025, 1, 1), "new_year"),
        (date(2025, 1, 28), "lunar_new_years_eve"),
        (date(2025, 1, 29), "spring_festival"),
    ]
    assert occurrences(DEFAULTS, date(2025, 2, 1), date(2025, 1, 1)) == []


# --- due greetings -----------------------------------------------------------


def test_due_greetings_lead_one_day_before() -> None:
    people = [customer(id="c1"), customer(id="c2", archived=True), customer(id="c3")]
    # 2026: 除夕 16 Feb, 春节 17 Feb; both have lead_days = 1.
    assert [
        (f.key, d, ids) for f, d, ids in due_greetings(DEFAULTS, people, date(2026, 2, 15))
    ] == [("lunar_new_years_eve", date(2026, 2, 16), ["c1", "c3"])]
    assert [
        (f.key, d, ids) for f, d, ids in due_greetings(DEFAULTS, people, date(2026, 2, 16))
    ] == [("spring_festival", date(2026, 2, 17), ["c1", "c3"])]
    assert due_greetings(DEFAULTS, people, date(2026, 2, 17)) == []


def test_womens_day_greets_women_only_and_teachers_day_teachers_only() -> None:
    people = [
        customer(id="f", gender=Gender.FEMALE),
        customer(id="m", gender=Gender.MALE),
        customer(id="u"),
        customer(id="edu", industry=" Education "),
        customer(id="tagged", tags=["老师"]),
        customer(id="both", gender=Gender.FEMALE, industry="教育"),
    ]
    womens = due_greetings(DEFAULTS, people, date(2025, 3, 7))
    assert [(f.key, ids) for f, _, ids in womens] == [("womens_day", ["f", "both"])]
    teachers = due_greetings(DEFAULTS, people, date(2025, 9, 9))
    assert [(f.key, ids) for f, _, ids in teachers] == [("teachers_day", ["edu", "tagged", "both"])]


def test_a_festival_nobody_matches_is_left_out() -> None:
    assert due_greetings(DEFAULTS, [customer(id="m", gender=Gender.MALE)], date(2025, 3, 7)) == []


def test_lead_days_zero_and_a_week() -> None:
    festivals = [
        lunar("mooncakes", 8, 15, lead_days=7),
        lunar("same_day", 8, 15, lead_days=0),
    ]
    people = [customer(id="c")]
    # 中秋 2025 is 6 October.
    assert [(f.key, d) for f, d, _ in due_greetings(festivals, people, date(2025, 9, 29))] == [
        ("mooncakes", date(2025, 10, 6))
    ]
    assert [(f.key, d) for f, d, _ in due_greetings(festivals, people, date(2025, 10, 6))] == [
        ("same_day", date(2025, 10, 6))
    ]


def test_audience_criteria_and_within_or_across() -> None:
    vip_women = Audience(tags=("VIP",), genders=(Gender.FEMALE,))
    assert vip_women.matches(customer(tags=["vip"], gender=Gender.FEMALE))
    assert not vip_women.matches(customer(tags=["vip"], gender=Gender.MALE))
    assert not vip_women.matches(customer(gender=Gender.FEMALE))
    assert Audience().matches(customer())
    assert not Audience(industries=("教育",)).matches(customer())


# --- loader ------------------------------------------------------------------


def test_default_calendar_has_chinas_festivals() -> None:
    assert [f.key for f in DEFAULTS] == [
        "new_year",
        "lunar_new_years_eve",
        "spring_festival",
        "lantern_festival",
        "womens_day",
        "labour_day",
        "dragon_boat_festival",
        "qixi_festival",
        "teachers_day",
        "mid_autumn_festival",
        "national_day",
        "double_ninth_festival",
        "christmas",
    ]
    spring = BY_KEY["spring_festival"]
    assert spring.names == {"zh": "春节", "en": "Spring Festival"}
    assert (spring.calendar, spring.month, spring.day, spring.lead_days) == (
        CalendarKind.LUNAR,
        1,
        1,
        1,
    )
    assert spring.template == "spring_festival"
    eve = BY_KEY["lunar_new_years_eve"]
    assert (eve.rule, eve.month, eve.day) == (FestivalRule.LUNAR_NEW_YEARS_EVE, None, None)
    assert BY_KEY["womens_day"].applies_to == (Audience(genders=(Gender.FEMALE,)),)
    assert len(BY_KEY["teachers_day"].applies_to) == 2
    assert all(f.lead_days == 1 for f in DEFAULTS)
    hash(spring)  # usable as a dict key


def test_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[festival]]\nkey = "anniversary"\nname = { zh = "周年庆", en = "Anniversary" }\n'
        'calendar = "solar"\nmonth = 6\nday = 18\nlead_days = 3\n'
        'applies_to = { tags = ["vip"] }\n',
        encoding="utf-8",
    )
    (festival,) = load_festivals(path)
    assert festival == Festival(
        key="anniversary",
        names={"zh": "周年庆", "en": "Anniversary"},
        calendar=CalendarKind.SOLAR,
        month=6,
        day=18,
        lead_days=3,
        applies_to=(Audience(tags=("vip",)),),
        template="anniversary",
    )


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FestivalConfigError, match=r"missing\.toml: cannot read"):
        load_festivals(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[festival]\n", encoding="utf-8")
    with pytest.raises(FestivalConfigError, match=r"bad\.toml: invalid TOML"):
        load_festivals(bad)


GOOD = {
    "key": "x",
    "name": {"zh": "节", "en": "Day"},
    "calendar": "lunar",
    "month": 1,
    "day": 1,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "Bad Key"}, "festival #1 'Bad Key': key: required"),
        ({"name": {"zh": "节"}}, "festival #1 'x': name: missing the 'en' name"),
        ({"name": {"zh": "节", "en": ""}}, "festival #1 'x': name.en: must be non-empty"),
        ({"calendar": "julian"}, 'festival #1 \'x\': calendar: must be "solar" or "lunar"'),
        ({"month": 13}, "festival #1 'x': month: required integer 1-12"),
        ({"month": True}, "festival #1 'x': month: required integer 1-12"),
        ({"day": 31}, "festival #1 'x': day: required integer 1-30 for a lunar date"),
        ({"calendar": "solar", "month": 2, "day": 30}, "festival #1 'x': day: 2/30 is not a date"),
        ({"lead_days": -1}, "festival #1 'x': lead_days: must be an integer 0-60"),
        ({"lead_days": 61}, "festival #1 'x': lead_days: must be an integer 0-60"),
        ({"template": "../etc"}, "festival #1 'x': template: must be a template name"),
        ({"lead_day": 1}, "festival #1 'x': lead_day: unknown field"),
        ({"rule": "easter"}, "festival #1 'x': rule: must be one of"),
        ({"rule": "lunar_new_years_eve"}, "festival #1 'x': month: not allowed with rule"),
        (
            {"rule": "lunar_new_years_eve", "calendar": "solar", "month": None, "day": None},
            'festival #1 \'x\': calendar: rule "lunar_new_years_eve" needs calendar = "lunar"',
        ),
        ({"applies_to": "some"}, "festival #1 'x': applies_to: \"all\", a table"),
        ({"applies_to": {}}, "festival #1 'x': applies_to: an empty table"),
        ({"applies_to": []}, "festival #1 'x': applies_to: an empty list matches nobody"),
        ({"applies_to": {"gender": "woman"}}, "festival #1 'x': applies_to.gender: must be one of"),
        ({"applies_to": {"tags": "vip"}}, "festival #1 'x': applies_to.tags: must be a list"),
        ({"applies_to": {"age": 3}}, "festival #1 'x': applies_to.age: unknown field"),
    ],
)
def test_every_field_is_validated_with_a_one_line_message(
    change: dict[str, object], message: str
) -> None:
    entry = {**GOOD, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(FestivalConfigError) as caught:
        parse_festivals({"festival": [entry]}, "cal.toml")
    text = str(caught.value)
    assert text.startswith("cal.toml: ")
    assert message in text
    assert "\n" not in text


def test_duplicate_keys_and_top_level_typos_are_errors() -> None:
    with pytest.raises(FestivalConfigError, match=r"festival #2 'x': key: duplicate key"):
        parse_festivals({"festival": [GOOD, GOOD]})
    with pytest.raises(FestivalConfigError, match="unknown top-level key 'festivals'"):
        parse_festivals({"festivals": [GOOD]})
    with pytest.raises(FestivalConfigError, match=r"festival #1: must be a table"):
        parse_festivals({"festival": ["x"]})


def test_applies_to_gender_list_and_defaults() -> None:
    (festival,) = parse_festivals(
        {"festival": [{**GOOD, "applies_to": {"gender": ["female", "other"]}}]}
    )
    assert festival.applies_to == (Audience(genders=(Gender.FEMALE, Gender.OTHER)),)
    (plain,) = parse_festivals({"festival": [GOOD]})
    assert (plain.applies_to, plain.lead_days, plain.template) == ((), 1, "x")
