"""Small helpers the report modules share: aware-datetime checks, UTC, stable tables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")



def utc(moment: datetime) -> datetime:
    # Records are stored in UTC; comparing datetimes that share the UTC tzinfo
    # object skips a utcoffset() call per comparison (hundreds of thousands here).
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)



def ordered(counts: Mapping[str, int], enum: type[StrEnum]) -> dict[str, int]:
    """Every member of ``enum`` in declaration order (zeros included: stable tables)."""
    return {member.value: counts.get(member.value, 0) for member in enum}

