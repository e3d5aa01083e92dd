"""Files people download: CSV that Excel opens correctly (UTF-8 with BOM)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot import labels
from bot.domain.models import AuditEvent
from bot.i18n import gettext_for


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def audit_csv(
    events: Iterable[AuditEvent], language: str, tz: ZoneInfo | str, names: Mapping[str, str]
) -> bytes:
    """The audit log in the reader's language: local times, the actor's name beside the id.

    Actions and record types are their labels; the changes stay the stored JSON
    (field codes, before → after), which is what an auditor filters on.
    """
    _ = gettext_for(language)
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    header = [_(column) for column in labels.AUDIT_COLUMNS]
    header[0] = header[0] % {"timezone": zone.key}
    return csv_bytes(
        header,
        (
            (
                event.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                event.actor_id,
                names.get(event.actor_id, ""),
                labels.name(labels.AUDIT_ACTIONS, event.action, _),
                labels.name(labels.AUDIT_ENTITIES, event.entity_type, _),
                event.entity_id,
                json.dumps(event.changes, ensure_ascii=False, sort_keys=True),
                event.note,
            )
            for event in events
        ),
    )
