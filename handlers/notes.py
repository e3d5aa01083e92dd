"""Notes on a customer's card: "📝 Note" (``note:start:<customer>``), a form on handlers/wizard.py.

One step collects messages until "✅ Done": any mix of text, voice notes,
photos and documents (each file kept by Telegram's ``file_id`` with its
metadata, not its bytes; with ``[notes] keep_local_copies`` on the TinyDB
backend a copy is downloaded into the data directory as well).  The note then
appears, dated, in the card's history with the contacts, newest first; each of
its files opens with one tap there (``note:file:<note>:<index>``: the bot sends
it again by ``file_id``, after checking the caller still sees the customer).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot.domain.models import AttachmentKind, NoteAttachment, StaffUser
from bot.domain.validation import ValidationError, parse_free_text
from bot.render import render
from bot.services.errors import AccessDenied
from handlers import wizard
from handlers.callback_data import CallbackData
from handlers.common import Context, answer_press, button_handler, deny, reply_html, services
from handlers.customer_card import send_card
from handlers.menu import N_
from handlers.reasons import reason_text
from handlers.wizard import Attachment, Choice, Kind, Prompt, Step, Turn

log = logging.getLogger(__name__)

DRAFT = "note_draft"
DONE_LABEL = N_("✅ Done")
TEXT_MAX_LENGTH = 4000
MAX_FILES = 20
ICONS = {"photo": "📷", "document": "📎", "voice": "🎤", "audio": "🎵"}


def _parse(text: str, _inputs: Any) -> dict[str, Any]:
    return {"text": parse_free_text(text, TEXT_MAX_LENGTH, field_name="text")}


def _attach(turn: Turn, attachment: Attachment) -> dict[str, Any]:
    if attachment.kind not in {k.value for k in AttachmentKind} or not attachment.file_id:
        raise ValidationError("parts", "file.unsupported")
    if len(turn.draft.get("files", [])) >= MAX_FILES:
        raise ValidationError("parts", "text.too_long", max_length=MAX_FILES, length=MAX_FILES + 1)
    return {"file": {"kind": attachment.kind, "file_id": attachment.file_id,
                     "file_unique_id": attachment.file_unique_id, "file_name": attachment.file_name,
                     "mime_type": attachment.mime_type, "size": attachment.size}}


def _store(draft: dict[str, Any], value: Any) -> None:
    """A part goes into the note being written; "Done" (``True``) ends the step."""
    if value is True:
        draft["parts"] = True
        return
    if "text" in value:
        text = "\n".join(t for t in (draft.get("text", ""), value["text"]) if t)
        if len(text) > TEXT_MAX_LENGTH:  # not taken: the question says why, nothing is cut silently
            draft["refused"] = len(text)
            return
        draft["text"] = text
    else:
        draft.setdefault("files", []).append(value["file"])


def _done_choice(turn: Turn) -> list[Choice]:
    has_parts = bool(turn.draft.get("text") or turn.draft.get("files"))
    return [Choice("done", turn._(DONE_LABEL), True)] if has_parts else []


STEPS = (
    Step("parts", Kind.FILE, _parse, choices=_done_choice, attach=_attach, store=_store),
)


def _ask(turn: Turn, prompt: Prompt) -> str:
    files = turn.draft.get("files", [])
    reason = prompt.reason
    if (length := turn.draft.pop("refused", None)) is not None:
        reason = reason_text(ValidationError("text", "text.too_long", max_length=TEXT_MAX_LENGTH, length=length),
                             turn.language)
    return render(turn.language, "note_ask", reason=reason, name=turn.draft.get("customer_name", ""),
                  text=turn.draft.get("text", ""), files=[ICONS.get(f["kind"], "📎") for f in files])


async def on_save(turn: Turn) -> str | None:
    draft, svc = turn.draft, turn.svc
    if not (draft.get("text") or draft.get("files")):
        draft.pop("parts", None)
        return await wizard.ask(turn, STEPS[0], reason=render(turn.language, "note_empty"))
    attachments = [NoteAttachment(kind=AttachmentKind(f["kind"]), file_id=f["file_id"],
                                  file_unique_id=f.get("file_unique_id"), file_name=f.get("file_name"),
                                  mime_type=f.get("mime_type"), size=f.get("size"))
                   for f in draft.get("files", [])]
    if svc.notes.keeps_local_copies:
        attachments = [await _local_copy(turn, a) for a in attachments]
    await svc.notes.add(turn.staff, draft["customer_id"], text=draft.get("text", ""), attachments=attachments,
                        record_id=turn.record_id)
    await reply_html(turn.update, turn.context, wizard.saved_text(turn), turn.language)
    try:
        await send_card(turn.update, turn.context, turn.staff, turn.language, draft["customer_id"])
    except AccessDenied:
        pass
    return None


async def _local_copy(turn: Turn, attachment: NoteAttachment) -> NoteAttachment:
    """Download the file (the Bot API's getFile) and keep it through the service; a failure keeps the file_id only."""
    try:
        file = await turn.context.bot.get_file(attachment.file_id)
        content = bytes(await file.download_as_bytearray())
    except TelegramError as error:
        log.warning("note file %s not copied: %s", attachment.file_unique_id, error)
        return attachment
    return await turn.svc.notes.keep_copy(attachment, content)


FORM = wizard.Form(
    name="note", conversation="note", draft_key=DRAFT, steps=STEPS, ask=_ask, on_save=on_save,
    customer_start="start",
    customer_values=lambda c, _svc: {"customer_id": c.id, "customer_name": c.name},
)


@button_handler
async def on_file(update: Update, context: Context, staff: StaffUser, language: str, data: CallbackData) -> None:
    """``note:file:<note>:<index>``: send the file again by its ``file_id``."""
    svc = services(context)
    try:
        if not data.args[1].isdigit():
            raise AccessDenied(f"note file {data.args[1]}")
        _note, attachment = await svc.notes.attachment(staff, data.args[0], int(data.args[1]))
    except AccessDenied as denied:
        await deny(update, context, language, f"note file {data} ({denied})")
        return
    await answer_press(update)
    chat = update.effective_chat.id
    bot = context.bot
    send = {"photo": bot.send_photo, "voice": bot.send_voice, "audio": bot.send_audio}.get(
        attachment.kind.value, bot.send_document)
    try:
        await send(chat, attachment.file_id)
    except TelegramError as error:
        log.warning("note file %s not re-sent: %s", attachment.file_unique_id, error)
        await reply_html(update, context, render(language, "note_file_gone"), language)


def handlers(conversation_timeout: timedelta | None = None) -> list[BaseHandler]:
    return [
        wizard.conversation(FORM, conversation_timeout),
        CallbackQueryHandler(on_file, pattern=r"^note:file:"),
    ]
