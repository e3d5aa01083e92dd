"""Distances between locations (外勤签到): plain functions, no I/O."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_008.8  # the mean Earth radius (IUGG), metres


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def is_far(distance_m: float | None, limit_m: float) -> bool:
    """A check-in is flagged (not refused) when farther than ``limit_m`` from the saved location."""
    return distance_m is not None and distance_m > limit_m


def visit_duration(checked_in_at: datetime, checked_out_at: datetime | None) -> timedelta | None:
    """How long a visit lasted (None until checked out; never negative)."""
    if checked_out_at is None:
        return None
    return max(checked_out_at - checked_in_at, timedelta(0))
