"""What the parser tests share: the moment they type at, and how a refusal is read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.validation import ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday
TODAY = NOW.date()


def at(month: int, day: int, hour: int = 9, minute: int = 0, *, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def reason(call: Callable[[], Any]) -> tuple[str, dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.reason_code, caught.value.params
