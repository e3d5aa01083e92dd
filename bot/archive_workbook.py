"""The archive's workbook for people: one sheet per collection, one row per record.

Columns are the records' stored field names (the archive's own vocabulary,
documented in docs/archive-format.md); values are as the JSON Lines hold
them -- moments in UTC ISO-8601, lists joined with "; ", nested objects as
JSON.  Nothing becomes a formula: every text cell is written as a string
(openpyxl would take "=..." for a formula), and text starting with
``= + - @`` or a tab/CR gets a leading apostrophe, so Excel, LibreOffice or
a CSV saved from the sheet never evaluate it.  Write-only mode streams the
rows (openpyxl is imported here, in the worker that builds it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.reports_export import FORMULA_STARTS

MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header


def escape(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell_value(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return escape("; ".join("" if v is None else str(v) for v in value))
    if isinstance(value, (list, dict)):
        return escape(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return escape(str(value))


def workbook(collections: Mapping[str, Sequence[str]], fields: Mapping[str, Sequence[str]]) -> bytes:
    """``collections``: canonical JSON lines per collection; ``fields``: each one's columns."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for name, lines in collections.items():
        sheet = book.create_sheet(name[:31])
        sheet.freeze_panes = "A2"
        columns = list(fields[name])
        header = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=column)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for line in lines[:MAX_ROWS]:
            doc = json.loads(line)
            row = []
            for column in columns:
                value = cell_value(doc.get(column))
                if isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"  # never a formula
                    row.append(cell)
                else:
                    row.append(value)
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
