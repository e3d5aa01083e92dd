"""Files people download: CSV that Excel opens correctly (UTF-8 with BOM)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from bot.domain.models import AuditEvent

AUDIT_COLUMNS = ("at", "actor_id", "action", "entity_type", "entity_id", "changes", "note")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def audit_csv(events: Iterable[AuditEvent]) -> bytes:
    return csv_bytes(
        AUDIT_COLUMNS,
        (
            (
                event.at.isoformat(),
                event.actor_id,
                event.action,
                event.entity_type,
                event.entity_id,
                json.dumps(event.changes, ensure_ascii=False, sort_keys=True),
                event.note,
            )
            for event in events
        ),
    )
