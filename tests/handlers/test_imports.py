"""Importing customers in chat, end to end through the sandbox (issue 16, point 1).

Team east: manager Mei (English), rep Rita; manager 王经理 (Chinese) of east too; Wu in west.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook

from bot.domain.models import Customer, Role, StaffUser
from bot.sandbox.errors import ButtonNotFound
from handlers.common import SERVICES_KEY

MANAGER, RITA, WANG, WU = 871, 872, 873, 874
GBK_CSV = (
    "2026 客户名单,,,,,\n"
    "客户名称,联系电话,单位,生日,爱好,备注\n"
    "张伟,138 0013 8000,腾讯,1990年5月3日,篮球,老朋友\n"
    "李娜,139-0013-9000,阿里,农历三月初五,,\n"
    ",,,,,\n"
    "王五,123,,,,\n"
    "张伟,13800138000,腾讯,,,\n"
    "老客户,13600136000,,,,\n"
).encode("gbk")


@pytest.fixture
async def team(bot: Any, sandbox: Any, clock: Any) -> dict[str, Any]:
    svc = bot.bot_data[SERVICES_KEY]
    now = clock.now()
    for uid, name, role, teams, language in (
        (MANAGER, "Mei", Role.MANAGER, ["east"], "en"),
        (RITA, "Rita", Role.REP, ["east"], "en"),
        (WANG, "王经理", Role.MANAGER, ["east"], "zh"),
        (WU, "Wu", Role.REP, ["west"], "en"),
    ):
        await svc.store.staff.insert(StaffUser(id=str(uid), telegram_id=uid, name=name, role=role, teams=teams,
                                               language=language, created_at=now, updated_at=now))
    await svc.store.customers.insert(Customer(id="old1", name="Old Friend", owner_id=str(RITA), team="east",
                                              phones=["+8613600136000"], created_at=now, updated_at=now))
    return {
        "svc": svc,
        "mei": sandbox.user(MANAGER, first_name="Mei", language_code="en"),
        "rita": sandbox.user(RITA, first_name="Rita", language_code="en"),
        "wang": sandbox.user(WANG, first_name="王", language_code="zh-hans"),
    }


def texts(replies: list[Any]) -> str:
    return "\n".join(m.text or m.caption or "" for m in replies)


def rejected_rows(sandbox: Any, replies: list[Any]) -> list[list[str]]:
    documents = [m for m in replies if m.document is not None]
    assert len(documents) == 1, texts(replies)
    content, name = sandbox.file_content_for(documents[0])
    assert name.endswith("-rejected.csv")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


async def test_a_manager_imports_a_gbk_csv_with_chinese_headers(team: dict[str, Any], sandbox: Any) -> None:
    mei, svc = team["mei"], team["svc"]
    replies = await mei.send_document("客户.csv", GBK_CSV, "text/csv")
    preview = texts(replies)
    assert "GB18030" in preview and "Header in row 2" in preview
    assert "爱好" in preview and "unknown column" in preview
    assert "New: 2" in preview and "Already in the CRM: 1" in preview and "Repeated in the file: 1" in preview
    assert "Invalid: 1" in preview and "too few digits" in preview
    assert "张伟 · +8613800138000 · 腾讯" in preview
    assert await svc.store.customers.count() == 1, "nothing stored before Import"
    # the unknown column is ignored instead of kept as a note, with the buttons
    await mei.press("✏️ Columns")
    await mei.press("爱好 → Keep as a note")
    await mei.press("Ignore")
    await mei.press("« Back")
    assert "爱好 → Ignore" in mei.last_message().text
    # the owner: only Mei herself and her team's rep
    await mei.press("👤 Owner: Mei")
    labels = [label for row in mei.last_message().button_labels() for label in row]
    assert "Rita" in labels and "Wu" not in labels
    await mei.press("Rita")
    assert "Owner: Rita" in mei.last_message().text
    replies = await mei.press("✅ Import 2", timeout=30)
    assert any("Importing 客户.csv: 3 of 3 rows" in (m.text or "") for m in mei.messages()), "the progress"
    summary = texts(replies)
    assert "New customers: 2" in summary and "Duplicates skipped: 2" in summary and "Invalid rows: 1" in summary
    rows = rejected_rows(sandbox, replies)
    assert rows[0][-1] == "Import problem"
    assert {r[0]: r[-1] for r in rows[1:]} == {
        "王五": "Phone: That phone number has too few digits.",
        "张伟": "The same customer as row 3 of the file.",
        "老客户": "Already in the CRM (Old Friend).",
    }
    customers = {c.name: c for c in await svc.store.customers.find({"owner_id": str(RITA)})}
    assert set(customers) == {"Old Friend", "张伟", "李娜"}
    assert customers["张伟"].notes == "老朋友" and customers["张伟"].birthday is not None
    assert customers["李娜"].birthday is not None and customers["李娜"].birthday.calendar.value == "lunar"
    assert await svc.store.audit.count({"action": "import"}) == 3  # two customers and the import itself


async def test_in_chinese_with_merge_and_an_xlsx_of_several_sheets(team: dict[str, Any], sandbox: Any) -> None:
    wang, svc = team["wang"], team["svc"]
    book = Workbook()
    first = book.active
    first.title = "说明"
    first.append(["这是说明页"])
    second = book.create_sheet("客户")
    second.append(["姓名", "手机", "邮箱", "备注"])
    second.append(["老客户", 13600136000, "old@example.com", "=HYPERLINK(\"http://x\")"])
    second.append(["新客户", "13500135000", None, "=1+1"])
    data = io.BytesIO()
    book.save(data)
    replies = await wang.send_document("客户.xlsx", data.getvalue())
    assert "Excel 工作簿" in texts(replies) and "2 个工作表" in texts(replies)
    await wang.press("客户")
    assert "新客户：1" in wang.last_message().text and "系统中已存在：1" in wang.last_message().text
    await wang.press("✓ 重复客户：跳过")
    assert "补全已有客户的空白字段" in wang.last_message().text
    replies = await wang.press("✅ 导入 1 个", timeout=30)
    assert "新客户：1" in texts(replies) and "补全的已有客户：1" in texts(replies)
    old = await svc.store.customers.get("old1")
    assert old is not None and old.email == "old@example.com" and old.notes == '=HYPERLINK("http://x")'
    new = [c for c in await svc.store.customers.find({"owner_id": str(WANG)}) if c.name == "新客户"]
    assert new and new[0].notes == "=1+1", "a formula is kept as its text, never evaluated"


async def test_a_rep_is_refused_with_the_role_named(team: dict[str, Any]) -> None:
    rita, svc = team["rita"], team["svc"]
    replies = await rita.send_document("c.csv", GBK_CSV)
    assert "for managers and admins" in texts(replies)
    assert await svc.store.customers.count() == 1
    assert await svc.store.kv.count({"namespace": "import"}) == 0


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 4, "renamed .csv"),
    ("empty.csv", b"\xef\xbb\xbf\r\n", "empty"),
    ("fake.xlsx", b"this is not a workbook", "damaged"),
    ("notes.docx", b"PKnot really", "Excel (.xlsx), CSV and vCard"),
])
async def test_bad_files_get_a_clear_answer_and_change_nothing(
    team: dict[str, Any], name: str, content: bytes, expected: str
) -> None:
    mei, svc = team["mei"], team["svc"]
    replies = await mei.send_document(name, content)
    assert expected in texts(replies)
    assert await svc.store.customers.count() == 1
    assert await svc.store.kv.count({"namespace": "import"}) == 0


@pytest.mark.slow
async def test_a_50_mb_file_is_refused_by_its_size(team: dict[str, Any]) -> None:
    mei, svc = team["mei"], team["svc"]
    replies = await mei.send_document("huge.csv", b"Name,Phone\n" + b"x" * (50 * 1024 * 1024 - 20), timeout=60)
    assert "too large" in texts(replies) and "at most 20 MB" in texts(replies)
    assert await svc.store.kv.count({"namespace": "import"}) == 0


async def test_a_vcard_from_a_phone(team: dict[str, Any]) -> None:
    mei, svc = team["mei"], team["svc"]
    vcf = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0;=E4=B8=89;;;\r\n"
        b"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=BC=A0=E4=B8=89\r\n"
        b"TEL;CELL:138-0013-8001\r\nTEL;WORK:021 6123 4567\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Smith\r\nORG:ACME Co.;Sales\r\n"
        b"TEL;TYPE=CELL:+1 415 555 \r\n 2671\r\nEND:VCARD\r\n"
    )
    replies = await mei.send_document("contacts.vcf", vcf)
    assert "vCard" in texts(replies) and "New: 2" in texts(replies)
    await mei.press("✅ Import 2", timeout=30)
    names = {c.name: c for c in await svc.store.customers.find({"owner_id": str(MANAGER)})}
    assert names["张三"].phones == ["+8613800138001", "+862161234567"]
    assert names["Anna Smith"].phones == ["+14155552671"] and names["Anna Smith"].company == "ACME Co."


async def test_cancel_stores_nothing(team: dict[str, Any]) -> None:
    mei, svc = team["mei"], team["svc"]
    await mei.send_document("c.csv", GBK_CSV)
    replies = await mei.press("✖ Cancel")
    assert "cancelled" in texts(replies) + mei.last_message().text
    assert await svc.store.customers.count() == 1
    with pytest.raises(ButtonNotFound):  # the cancelled preview has no Import button any more
        await mei.press("✅ Import 2")


async def crashed_import(bot: Any, team: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """Mei's import of 5 rows, cut after the first batch of 2 as by a kill; the bot then restarts."""
    from bot.services import imports as import_service
    from handlers import imports as import_handlers

    mei, svc = team["mei"], team["svc"]
    monkeypatch.setattr(import_service, "BATCH", 2)
    rows = "\n".join(f"Kunde {i},1390013{i:04d}" for i in range(5))
    await mei.send_document("five.csv", f"Name,Phone\n{rows}\n".encode())
    job_id = next(job for job in svc.imports._files)
    real = svc.imports._write_rest
    calls = 0

    async def killed(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # inside the second batch's transaction: nothing of it is applied
            raise SystemExit("killed")  # nothing after this runs, as with kill -9
        return await real(*args)

    monkeypatch.setattr(svc.imports, "_write_rest", killed)
    with pytest.raises(SystemExit):
        await svc.imports.commit(await svc.staff.active(MANAGER), job_id)
    monkeypatch.setattr(svc.imports, "_write_rest", real)
    svc.imports._files.clear()  # a restarted bot has nothing in memory
    assert await import_handlers.announce_unfinished(bot) == 1
    await mei.wait_for_reply()
    assert "was interrupted" in mei.last_message().text and "after 2 rows" in mei.last_message().text
    return job_id


async def test_after_a_restart_an_interrupted_import_is_resumed_without_duplicates(
    bot: Any, team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mei, svc = team["mei"], team["svc"]
    await crashed_import(bot, team, monkeypatch)
    assert await svc.store.customers.count() == 3
    replies = await mei.press("▶️ Resume the import", timeout=30)
    assert "New customers: 5" in texts(replies)
    names = [c.name for c in await svc.store.customers.find({"owner_id": str(MANAGER)})]
    assert sorted(names) == [f"Kunde {i}" for i in range(5)]


async def test_after_a_restart_an_interrupted_import_can_be_rolled_back(
    bot: Any, team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mei, svc = team["mei"], team["svc"]
    await crashed_import(bot, team, monkeypatch)
    await mei.press("↩️ Roll it back", timeout=30)
    assert "rolled back: 2 customers" in mei.last_message().text
    assert await svc.store.customers.count() == 1
    assert await svc.imports.unfinished() == []
