"""Importing customers in chat: a manager or admin sends an XLSX, CSV or vCard file (issue 16).

The file → its preview (encoding found, the sheet, each column's field, unknown columns, the
counts of new / duplicate / invalid rows with their reasons, the first rows as they will be
saved) → corrections with buttons (a column's field, the sheet, the owner, skip or merge
duplicates) → Import → a progress message edited as it goes → the summary and a CSV of the
rejected rows, with the reason on each, to fix and send again.

Everything the screens show and every press goes through ``ImportService`` (access, the
job in the store); the job, not ``user_data``, holds the state, so a button still works
after a restart. After a restart in the middle of an import the importer is told, with
buttons to resume it or roll it back (:func:`announce_unfinished`, from ``bot/app.py``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.domain import access
from bot.domain.imports import mapping as mapping_rules
from bot.domain.imports.files import FileRefused, check_size
from bot.domain.models import Role, StaffUser
from bot.domain.validation import ValidationError
from bot.i18n import gettext_for
from bot.labels import FIELDS
from bot.render import render
from bot.services import Services
from bot.services.errors import AccessDenied, Invalid
from bot.services.imports import Preview, Summary, rejected_csv
from handlers import callback_data, common
from handlers.callback_data import CallbackData
from handlers.menu import N_
from handlers.reasons import reason_text

log = logging.getLogger(__name__)

FEATURE = "imp"
PROGRESS_SECONDS = 1.0  # the progress message is edited at most this often
for _action, _count in (("view", 1), ("cols", 1), ("col", 2), ("map", 3), ("owners", 1), ("owner", 2),
                        ("dup", 2), ("sheet", 2), ("go", 1), ("cancel", 1), ("resume", 1), ("undo", 1)):
    callback_data.declare(FEATURE, _action, _count)

TARGET_LABELS: dict[str, str] = {
    **{key: FIELDS[key] for key in mapping_rules.ALIASES if key in FIELDS},
    "purchase.product": N_("Purchase: product"),
    "purchase.amount": N_("Purchase: amount"),
    "purchase.date": N_("Purchase: date"),
    "purchase.quantity": N_("Purchase: quantity"),
    mapping_rules.NOTE: N_("Keep as a note"),
    mapping_rules.IGNORE: N_("Ignore"),
}
IMPORT_REASONS: dict[str, str] = {
    "import.no_name": N_("No name: the row needs a name."),
    "import.no_product": N_("An amount without a product."),
    "import.duplicate_in_file": N_("The same customer as row %(line)s of the file."),
    "import.duplicate_store": N_("Already in the CRM (%(name)s)."),
    "import.duplicate_colleague": N_("Already in the CRM, with another rep."),
}
REASON_COLUMN = N_("Import problem")
COLUMNS_LABEL = N_("✏️ Columns")
OWNER_LABEL = N_("👤 Owner: %(name)s")
NO_OWNER_LABEL = N_("👤 Choose the owner")
SKIP_LABEL = N_("Duplicates: skip")
MERGE_LABEL = N_("Duplicates: fill empty fields")
IMPORT_LABEL = N_("✅ Import %(count)s")
CANCEL_LABEL = N_("✖ Cancel")
RESUME_LABEL = N_("▶️ Resume the import")
UNDO_LABEL = N_("↩️ Roll it back")
BACK_LABEL = common.BACK_LABEL


def _button(text: str, action: str, *args: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callback_data.encode(FEATURE, action, *args))


def target_label(target: str, language: str) -> str:
    msgid = TARGET_LABELS.get(target)
    return gettext_for(language)(msgid) if msgid else target


def describe(language: str):
    _ = gettext_for(language)

    def text(column: str, code: str, params: dict[str, Any]) -> str:
        if code in IMPORT_REASONS:
            try:
                return _(IMPORT_REASONS[code]) % params if params else _(IMPORT_REASONS[code])
            except (KeyError, TypeError, ValueError):
                return _(IMPORT_REASONS[code])
        reason = reason_text(ValidationError(column, code, **params), language)
        return f"{target_label(column, language)}: {reason}" if column in TARGET_LABELS else reason

    return text


# ---- screens ------------------------------------------------------------------------------
def preview_text(preview: Preview, language: str) -> str:
    describe_reason = describe(language)
    columns = [(c.header or f"#{c.index + 1}", target_label(c.target, language), c.known) for c in preview.columns]
    samples = []
    for draft in preview.samples:
        parts = [draft.get("name", ""), ", ".join(draft.get("phones", [])), draft.get("company") or ""]
        if draft.get("purchase"):
            purchase = draft["purchase"]
            parts.append(f"{purchase.get('product', '')} {purchase.get('amount', '')}")
        samples.append(" · ".join(p for p in parts if p))
    reasons = [(describe_reason(column, code, params), count) for column, code, params, count in preview.reasons]
    return render(
        language, "import_preview", file_name=preview.file_name, kind=preview.kind, encoding=preview.encoding,
        sheet=preview.sheets[preview.sheet], sheets=len(preview.sheets), header_line=preview.header_line,
        columns=columns, unknown=[c.header for c in preview.unknown], rows=preview.rows, new=preview.new,
        duplicates_file=preview.duplicates_file, duplicates_store=preview.duplicates_store,
        invalid=preview.invalid, blank=preview.blank, reasons=reasons, samples=samples,
        owner=preview.owner.name if preview.owner else "", policy=preview.policy,
    )


def preview_markup(preview: Preview, language: str) -> InlineKeyboardMarkup:
    _ = gettext_for(language)
    job = preview.job_id
    rows: list[list[InlineKeyboardButton]] = []
    if len(preview.sheets) > 1:
        rows += [[_button(("• " if i == preview.sheet else "") + name[:30], "sheet", job, str(i))]
                 for i, name in enumerate(preview.sheets)]
    owner = (_(OWNER_LABEL) % {"name": preview.owner.name} if preview.owner else _(NO_OWNER_LABEL))
    rows.append([_button(_(COLUMNS_LABEL), "cols", job), _button(owner, "owners", job)])
    other = "merge" if preview.policy == "skip" else "skip"
    policy_label = SKIP_LABEL if preview.policy == "skip" else MERGE_LABEL
    rows.append([_button("✓ " + _(policy_label), "dup", job, other)])
    action = [_button(_(CANCEL_LABEL), "cancel", job)]
    if preview.owner is not None and (preview.new or (preview.duplicates_store and preview.policy == "merge")):
        action.insert(0, _button(_(IMPORT_LABEL) % {"count": preview.new}, "go", job))
    rows.append(action)
    return InlineKeyboardMarkup(rows)


def columns_markup(preview: Preview, language: str) -> InlineKeyboardMarkup:
    rows = [[_button(f"{(c.header or '#' + str(c.index + 1))[:24]} → {target_label(c.target, language)}",
                     "col", preview.job_id, str(c.index))] for c in preview.columns[:60]]
    rows.append([_button(gettext_for(language)(BACK_LABEL), "view", preview.job_id)])
    return InlineKeyboardMarkup(rows)


def targets_markup(preview: Preview, column: int, language: str) -> InlineKeyboardMarkup:
    buttons = [_button(("• " if preview.columns[column].target == t else "") + target_label(t, language),
                       "map", preview.job_id, str(column), t) for t in mapping_rules.TARGETS]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_button(gettext_for(language)(BACK_LABEL), "cols", preview.job_id)])
    return InlineKeyboardMarkup(rows)


def summary_text(summary: Summary, language: str) -> str:
    return render(language, "import_summary", file_name=summary.file_name, created=summary.created,
                  merged=summary.merged, skipped=summary.skipped, invalid=summary.invalid,
                  owner=summary.owner.name if summary.owner else "", rejected=len(summary.rejected),
                  already_done=summary.already_done)


def refusal(language: str, error: FileRefused | Invalid) -> str:
    code = getattr(error, "reason_code", None) or getattr(error, "code", "")
    return render(language, "import_refused", code=code, **error.params)


# ---- the file arrives ---------------------------------------------------------------------
async def on_document(update: Update, context: common.Context) -> None:
    staff, language = await common.caller(update, context)
    message = update.effective_message
    if staff is None or message is None or message.document is None:
        return
    svc = common.services(context)
    missing = access.missing_role(staff, Role.MANAGER)
    if missing is not None:  # a rep: told whom it is for
        await common.deny(update, context, language, "import", needs=missing)
        return
    document = message.document
    name = document.file_name or "file"
    try:
        check_size(document.file_size)  # refused by size before any download
        await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
        telegram_file = await document.get_file()
        data = bytes(await telegram_file.download_as_bytearray())
        preview = await svc.imports.start(staff, name, data, source={"file_id": document.file_id},
                                          chat_id=message.chat_id, language=language)
    except (FileRefused, Invalid) as error:
        await common.reply_html(update, context, refusal(language, error), language)
        return
    except AccessDenied as denied:
        await common.deny(update, context, language, "import", denied=denied)
        return
    await common.reply_html(update, context, preview_text(preview, language), language,
                            reply_markup=preview_markup(preview, language))


# ---- buttons -------------------------------------------------------------------------------
@common.button_handler
async def on_button(update: Update, context: common.Context, staff: StaffUser, language: str,
                    data: CallbackData) -> None:
    svc = common.services(context)
    job = data.args[0]
    try:
        await _pressed(update, context, svc, staff, language, data, job)
    except (Invalid, FileRefused) as error:
        await common.answer_press(update)
        await common.reply_html(update, context, refusal(language, error), language)


async def _pressed(update: Update, context: common.Context, svc: Services, staff: StaffUser, language: str,
                   data: CallbackData, job: str) -> None:
    imports = svc.imports
    action = data.action
    if action in ("resume", "undo", "go"):
        await _commit_or_undo(update, context, svc, staff, language, action, job)
        return
    if action == "cancel":
        await imports.cancel(staff, job)
        await common.answer_press(update)
        await update.callback_query.edit_message_text(render(language, "import_cancelled"))
        return
    if not imports.has_file(job):  # a restart forgot the parsed file: fetch it again
        stored = await imports.job(staff, job)
        await imports.reload(job, stored, await _download(context, stored))
    if action == "view":
        preview = await imports.preview(staff, job)
    elif action == "sheet":
        preview = await imports.choose_sheet(staff, job, _int(data.args[1]))
    elif action == "dup":
        preview = await imports.set_policy(staff, job, data.args[1])
    elif action == "owner":
        preview = await imports.set_owner(staff, job, data.args[1])
    elif action == "map":
        preview = await imports.set_column(staff, job, _int(data.args[1]), data.args[2])
        await common.show(update, context, preview_text(preview, language), language,
                          columns_markup(preview, language))
        return
    elif action == "cols":
        preview = await imports.preview(staff, job)
        await common.show(update, context, render(language, "import_columns", file_name=preview.file_name),
                          language, columns_markup(preview, language))
        return
    elif action == "col":
        preview = await imports.preview(staff, job)
        column = _int(data.args[1])
        if not 0 <= column < len(preview.columns):
            raise Invalid("import.no_such_column")
        await common.show(update, context, render(language, "import_column", header=preview.columns[column].header,
                                                  sample=preview.columns[column].sample), language,
                          targets_markup(preview, column, language))
        return
    elif action == "owners":
        owners = await imports.owner_choices(staff)
        rows = [[_button(o.name[:40], "owner", job, o.id)] for o in owners[:50]]
        rows.append([_button(gettext_for(language)(BACK_LABEL), "view", job)])
        await common.show(update, context, render(language, "import_owner", count=len(owners)), language,
                          InlineKeyboardMarkup(rows))
        return
    else:
        raise Invalid("import.unknown_button")
    await common.show(update, context, preview_text(preview, language), language, preview_markup(preview, language))


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


async def _download(context: common.Context, job: dict[str, Any]) -> bytes:
    file_id = job.get("source", {}).get("file_id")
    if not file_id:
        raise Invalid("import.file_needed")
    try:
        telegram_file = await context.bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError:
        raise Invalid("import.file_needed") from None


async def _commit_or_undo(update: Update, context: common.Context, svc: Services, staff: StaffUser,
                          language: str, action: str, job_id: str) -> None:
    imports = svc.imports
    await common.answer_press(update)
    query = update.callback_query
    if action == "undo":
        removed = await imports.roll_back(staff, job_id)
        await query.edit_message_text(render(language, "import_rolled_back", removed=removed))
        return
    job = await imports.job(staff, job_id)
    data = None if imports.has_file(job_id) or job["status"] == "done" else await _download(context, job)
    last = 0.0

    async def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < PROGRESS_SECONDS:
            return
        last = now
        try:
            await query.edit_message_text(render(language, "import_progress", done=done, total=total,
                                                 file_name=job["file_name"]))
        except TelegramError:  # the progress line is a courtesy: the import goes on
            log.warning("could not edit an import's progress message", exc_info=True)

    await progress(0, 1)
    summary = await imports.commit(staff, job_id, progress=progress, data=data)
    chat_id = update.effective_chat.id
    await common.send_html(context, chat_id, summary_text(summary, language), language)
    if summary.rejected:
        _ = gettext_for(language)
        content = rejected_csv(summary, _(REASON_COLUMN), describe(language))
        stem = summary.file_name.rsplit(".", 1)[0][:60] or "import"
        await context.bot.send_document(chat_id, content, filename=f"{stem}-rejected.csv",
                                        caption=render(language, "import_rejected", count=len(summary.rejected)))


# ---- after a restart ------------------------------------------------------------------------
async def announce_unfinished(application: Application) -> int:
    """Tell each importer whose import a crash or restart interrupted, with Resume / Roll back."""
    svc: Services = application.bot_data[common.SERVICES_KEY]
    told = 0
    for job_id, job, actor in await svc.imports.unfinished_with_actors():
        language = job.get("language") or actor.language
        _ = gettext_for(language)
        markup = InlineKeyboardMarkup([[_button(_(RESUME_LABEL), "resume", job_id),
                                        _button(_(UNDO_LABEL), "undo", job_id)]])
        try:
            await application.bot.send_message(
                job.get("chat_id") or actor.telegram_id,
                render(language, "import_unfinished", file_name=job["file_name"], done=job.get("done", 0)),
                reply_markup=markup)
            told += 1
        except TelegramError:
            log.warning("could not tell user %s of an unfinished import", actor.id, exc_info=True)
    return told


def handlers() -> list[BaseHandler]:
    return [
        MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, on_document),
        CallbackQueryHandler(on_button, pattern=callback_data.pattern(FEATURE)),
    ]
