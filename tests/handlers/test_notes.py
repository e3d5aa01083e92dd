"""Notes on the card end to end: text, photos, documents in one note; in the history, newest first;
a file re-opened with one tap; the old single notes field as the first note; access."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from bot.domain.models import AttachmentKind, Direction, InteractionKind
from bot.services.notes import legacy_id
from tests.handlers.test_interactions import (
    NOT_AVAILABLE,
    REP_EN,
    REP_ZH,
    customer,
    open_card,
    people,  # noqa: F401 - the fixture
    said,
    svc,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


def button(user: Any, icon: str) -> str:
    """The label of the newest button that starts with ``icon``."""
    return next(b["text"] for m in reversed(user.bot_messages()) for row in m.inline_keyboard or () for b in row
                if b["text"].startswith(icon))


async def notes_of(bot: Any, customer_id: str) -> list[Any]:
    return await svc(bot).store.notes.find({"customer_id": customer_id}, order_by="created_at")


async def test_a_note_with_a_photo_and_a_document_reopened_from_the_history_en(
    people: dict[str, Any], bot: Any, clock: Any  # noqa: F811
) -> None:
    rep = people["rep"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await svc(bot).interactions.log(await svc(bot).store.staff.get(str(REP_EN)), zhang.id,
                                    kind=InteractionKind.CALL, direction=Direction.OUTBOUND, outcome=None,
                                    summary="first call")
    clock.set(clock.now() + timedelta(minutes=5))
    await open_card(rep, zhang)
    said(await rep.press("📝 Note"), "Send text, a voice note, a photo or a document")
    said(await rep.send("Saw their showroom, wants the blue model"), "So far")
    await rep.send_photo(PNG)
    replies = await rep.send_document("quote.pdf", b"%PDF-1.4 quote", mime_type="application/pdf")
    assert "📷" in said(replies, "So far").text and "📎" in said(replies, "So far").text
    await rep.press("✅ Done")
    (note,) = await notes_of(bot, zhang.id)
    assert note.text == "Saw their showroom, wants the blue model" and note.author_id == str(REP_EN)
    assert [a.kind for a in note.attachments] == [AttachmentKind.PHOTO, AttachmentKind.DOCUMENT]
    document = note.attachments[1]
    assert document.file_name == "quote.pdf" and document.mime_type == "application/pdf" and document.size == 14
    assert all(a.file_id and a.file_unique_id for a in note.attachments)
    audit = await svc(bot).store.audit.find({"entity_id": note.id})
    assert [e.action for e in audit] == ["create"]

    await open_card(rep, zhang)
    history = said(await rep.press("🕘 History"), "history")
    assert history.text.index("Saw their showroom") < history.text.index("first call")  # newest first
    replies = await rep.press(button(rep, "📷"))
    assert replies and replies[-1].photo is not None
    replies = await rep.press(button(rep, "📎"))
    assert replies and replies[-1].document is not None


async def test_a_note_in_chinese_needs_something_before_done(people: dict[str, Any], bot: Any) -> None:  # noqa: F811
    rep = people["rep_zh"]
    li = await customer(bot, "李雷", REP_ZH)
    await open_card(rep, li)
    replies = await rep.press("📝 笔记")
    ask = said(replies, "请发送文字、语音、照片或文件")
    assert not any("完成" in label for row in ask.inline_keyboard for label in row)  # no Done yet
    said(await rep.send("x" * 4050), "⚠️")  # too long: asked again with the reason
    await rep.send("客户想要样品")
    said(await rep.send("长" * 3995), "⚠️")  # the note would be too long: not taken, and said so
    await rep.press("✅ 完成")
    (note,) = await notes_of(bot, li.id)
    assert note.text == "客户想要样品" and note.attachments == []


async def test_another_teams_rep_cannot_open_a_notes_file(people: dict[str, Any], bot: Any) -> None:  # noqa: F811
    rep, other = people["rep"], people["rep_west"]
    zhang = await customer(bot, "Zhang Wei", REP_EN)
    await open_card(rep, zhang)
    await rep.press("📝 Note")
    await rep.send_photo(PNG)
    await rep.press("✅ Done")
    (note,) = await notes_of(bot, zhang.id)
    await other.send("/start")
    await other.press_forged(other.last_message().message_id, f"note:file:{note.id}:0")
    assert other.callback_answers[-1]["text"] == NOT_AVAILABLE
    assert not [m for m in other.bot_messages() if m.photo is not None]


async def test_the_old_notes_field_becomes_the_first_note_once(people: dict[str, Any], bot: Any) -> None:  # noqa: F811
    services = svc(bot)
    old = await customer(bot, "Old Timer", REP_EN, notes="Prefers calls after 3pm")
    assert await services.notes.migrate_legacy() == 1
    assert await services.notes.migrate_legacy() == 0  # idempotent
    (note,) = await notes_of(bot, old.id)
    assert note.id == legacy_id(old.id) and note.legacy and note.text == "Prefers calls after 3pm"
    assert note.created_at == old.created_at
    kept = await services.store.customers.get(old.id)
    assert kept.notes == "Prefers calls after 3pm"  # the field itself is kept: nothing is lost
    await services.store.customers.update(dataclasses.replace(kept, notes="Prefers WeChat"))
    assert await services.notes.migrate_legacy() == 1
    assert (await services.store.notes.get(note.id)).text == "Prefers WeChat"


@pytest.mark.parametrize("text", ["", "   "])
async def test_an_empty_legacy_field_makes_no_note(people: dict[str, Any], bot: Any, text: str) -> None:  # noqa: F811
    c = await customer(bot, "Blank", REP_EN, notes=text)
    await svc(bot).notes.migrate_legacy()
    assert await notes_of(bot, c.id) == []
