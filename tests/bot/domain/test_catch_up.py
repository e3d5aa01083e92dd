"""Which missed days a run after downtime catches up, and which are beyond the horizon."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.catch_up import CatchUp, DayRange, DayRelation, catch_up, relation

TODAY = date(2027, 1, 13)


def test_a_normal_day_and_a_fresh_installation_owe_nothing() -> None:
    assert catch_up(None, TODAY, 31) == CatchUp()
    assert catch_up(date(2027, 1, 12), TODAY, 31) == CatchUp()
    assert catch_up(TODAY, TODAY, 31) == CatchUp()


def test_every_missed_day_within_the_horizon_is_caught_up() -> None:
    owed = catch_up(date(2026, 12, 14), TODAY, 31)
    assert owed.missed == DayRange(date(2026, 12, 15), date(2027, 1, 12)) and owed.beyond is None
    assert owed.missed.days == 29 and list(owed.missed)[-1] == date(2027, 1, 12)


def test_the_days_beyond_the_horizon_are_named_not_dropped() -> None:
    owed = catch_up(date(2026, 12, 14), TODAY, 7)
    assert owed.missed == DayRange(date(2027, 1, 6), date(2027, 1, 12))
    assert owed.beyond == DayRange(date(2026, 12, 15), date(2027, 1, 5))
    assert owed.missed.days + owed.beyond.days == 29


def test_bad_horizons_and_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        catch_up(None, TODAY, 0)
    with pytest.raises(ValueError):
        DayRange(TODAY, date(2027, 1, 1))


def test_relation_of_a_greetings_day_to_the_day_it_is_read() -> None:
    assert [relation(date(2027, 1, d), TODAY) for d in (12, 13, 14, 20)] == [
        DayRelation.PAST, DayRelation.TODAY, DayRelation.TOMORROW, DayRelation.LATER]
