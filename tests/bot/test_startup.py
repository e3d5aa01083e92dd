"""Start-up: heavy libraries load when first needed, not with the bot (issue 15, point 8)."""

from __future__ import annotations

import subprocess
import sys


def test_the_bot_starts_without_matplotlib_openpyxl_or_the_sql_stack() -> None:
    # matplotlib (~55 MB), openpyxl (~30 MB) load with the first chart or workbook; SQLAlchemy
    # and psycopg only with the SQL backend.
    code = (
        "import sys\n"
        "import bot.runner, bot.cli\n"
        "from bot.runner import make_store\n"
        "heavy = [m for m in ('matplotlib', 'openpyxl', 'numpy', 'sqlalchemy', 'psycopg')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_chart_and_a_workbook_still_load_what_they_need() -> None:
    code = (
        "import sys\n"
        "from bot.charts import cjk_font\n"
        "from bot.reports_export import _new_workbook\n"
        "cjk_font(); _new_workbook()\n"
        "import matplotlib\n"
        "assert matplotlib.get_backend().lower() == 'agg'\n"
        "assert 'openpyxl' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
