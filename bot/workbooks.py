"""Reading an XLSX workbook sent for import into sheets of text cells (issue 16).

openpyxl in read-only mode, without ``data_only``: a formula cell is read as the formula's
text (``=SUM(A1:A3)``) and never evaluated. Kept out of ``bot/domain`` (which imports no
file-format library); ``bot.domain.imports.files.read_file`` is handed :func:`read_xlsx`.
"""

from __future__ import annotations

import io
import zipfile

from bot.domain.imports.files import MAX_ROWS, FileRefused, Sheet, row_cells


def read_xlsx(data: bytes) -> list[Sheet]:
    """Every worksheet (trailing empty rows dropped); ``FileRefused`` for a damaged workbook."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise FileRefused("import.damaged") from None
    sheets = []
    try:
        total = 0
        for worksheet in workbook.worksheets:
            rows = []
            for values in worksheet.iter_rows(values_only=True):
                rows.append(row_cells(list(values)))
                total += 1
                if total > MAX_ROWS + 20:
                    raise FileRefused("import.too_many_rows", max=MAX_ROWS)
            while rows and not rows[-1]:
                rows.pop()
            sheets.append(Sheet(worksheet.title, rows))
    except FileRefused:
        raise
    except Exception:  # noqa: BLE001 - a damaged part of the archive, whatever openpyxl raises
        raise FileRefused("import.damaged") from None
    finally:
        workbook.close()
    return sheets
