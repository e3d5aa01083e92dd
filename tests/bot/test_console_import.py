"""`crm-bot console`'s ``/file PATH`` delivers a document the bot imports (issue 16, point 5)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.config import load_config
from bot.console import run_console


async def test_a_file_sent_from_the_console_is_imported(tmp_path: Path) -> None:
    source = tmp_path / "客户.csv"
    source.write_bytes("姓名,手机,公司\n控制台甲,13800138077,甲公司\n控制台乙,13900139077,乙公司\n".encode("utf-16"))
    config = load_config(None, environ={"CRM_BOT_DATA": str(tmp_path / "data")}, search=False)
    out = io.StringIO()
    lines = f"/file {source}\n👤 选择负责人\n#1\n✅ 导入 2 个\n/find 控制台甲\n"
    assert await run_console(config, stdin=io.StringIO(lines), stdout=out, demo=True) == 0
    output = out.getvalue()
    assert "UTF-16" in output and "新客户：2" in output
    assert "新客户：2" in output.split("✅ 导入 2 个", 1)[1], output
    assert "控制台甲" in output.split("/find 控制台甲", 1)[1]
