"""Haversine distances, the far flag and visit durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import codec
from bot.domain.geo import haversine_m, is_far, visit_duration
from bot.domain.models import Customer, GeoPoint, Interaction, InteractionKind, ModelError


def test_same_point_is_zero() -> None:
    assert haversine_m(31.23, 121.47, 31.23, 121.47) == 0


def test_known_distances() -> None:
    # Shanghai People's Square → Beijing Tiananmen: about 1068 km
    assert haversine_m(31.2304, 121.4737, 39.9042, 116.4074) == pytest.approx(1_067_000, rel=0.01)
    # one degree of latitude is about 111.2 km
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=0.001)
    # symmetric, and across the antimeridian the short way
    assert haversine_m(10, 179.9, 10, -179.9) == pytest.approx(haversine_m(10, -179.9, 10, 179.9))
    assert haversine_m(10, 179.9, 10, -179.9) < 25_000


def test_far_flag() -> None:
    assert is_far(1500.0, 1000) and not is_far(999.0, 1000) and not is_far(None, 1000)


def test_duration() -> None:
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    assert visit_duration(start, None) is None
    assert visit_duration(start, start + timedelta(minutes=45)) == timedelta(minutes=45)
    assert visit_duration(start, start - timedelta(minutes=1)) == timedelta(0)


def test_geo_point_validates() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ModelError):
        GeoPoint(latitude=91, longitude=0, at=at)
    with pytest.raises(ModelError):
        GeoPoint(latitude=0, longitude=0, at=datetime(2026, 3, 2))
    with pytest.raises(ModelError):
        GeoPoint(latitude=0, longitude=0, at=at, accuracy=-1)


def test_codec_round_trip_and_old_records() -> None:
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    point = GeoPoint(latitude=31.23, longitude=121.47, at=at, accuracy=12.5, live=True)
    visit = Interaction(customer_id="c", owner_id="r", kind=InteractionKind.VISIT, occurred_at=at,
                        check_in=point, check_in_address="1 Nanjing Rd", check_in_distance_m=42.0,
                        checked_out_at=at + timedelta(hours=1))
    assert codec.from_dict(Interaction, codec.to_dict(visit)) == visit
    customer = Customer(name="Zhang", owner_id="r", location=point)
    assert codec.from_dict(Customer, codec.to_dict(customer)) == customer
    # records stored before the check-in existed decode with the fields empty
    old = codec.to_dict(visit)
    for key in ("check_in", "check_in_address", "check_in_distance_m", "checked_out_at"):
        old.pop(key)
    decoded = codec.from_dict(Interaction, old)
    assert decoded.check_in is None and decoded.checked_out_at is None
    old_customer = codec.to_dict(customer)
    old_customer.pop("location")
    assert codec.from_dict(Customer, old_customer).location is None
