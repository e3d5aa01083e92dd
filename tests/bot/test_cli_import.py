"""``crm-bot import FILE --owner ID [--dry-run]``: preview, import, rejected rows, refusals."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from bot import cli
from bot.domain.models import Role, StaffUser
from storage import TinyDBStore

CSV = "姓名,手机,公司\n张伟,13800138000,腾讯\n李娜,139 0013 9000,阿里\n坏号码,123,\n".encode("utf-16")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("CRM_BOT_DATA", str(data))

    async def staff() -> None:
        async with TinyDBStore(data) as store:
            await store.staff.insert(StaffUser(id="r1", telegram_id=4242, name="Rita", role=Role.REP,
                                               teams=["east"]))

    asyncio.run(staff())
    return data


def customers(data: Path) -> list[str]:
    async def names() -> list[str]:
        async with TinyDBStore(data) as store:
            return sorted(c.name for c in await store.customers.find())

    return asyncio.run(names())


def test_dry_run_previews_and_stores_nothing(data_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "客户.csv"
    source.write_bytes(CSV)
    assert cli.main(["import", str(source), "--owner", "4242", "--dry-run", "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert "UTF-16" in out and "New: 2" in out and "Invalid: 1" in out and "dry run" in out
    assert customers(data_dir) == []


def test_import_stores_and_writes_the_rejected_rows(data_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "客户.csv"
    source.write_bytes(CSV)
    assert cli.main(["import", str(source), "--owner", "r1", "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert "New customers: 2" in out and "Invalid rows: 1" in out
    assert customers(data_dir) == ["张伟", "李娜"]
    rejected = tmp_path / "客户-rejected.csv"
    rows = list(csv.reader(rejected.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0] == ["姓名", "手机", "公司", "Import problem"] and rows[1][0] == "坏号码"


def test_refusals_are_one_clear_line(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert cli.main(["import", str(binary), "--owner", "r1", "--language", "en"]) == 2
    assert "renamed .csv" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "missing.csv"), "--owner", "r1"]) == 2
    assert "no such file" in capsys.readouterr().err
    binary.write_bytes(b"Name\nX\n")
    assert cli.main(["import", str(binary), "--owner", "nobody"]) == 2
    assert "no staff member" in capsys.readouterr().err
    assert customers(data_dir) == []
