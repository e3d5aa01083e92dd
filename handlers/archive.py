"""/backup: an admin gets the whole data set as an archive, in their private chat.

The archive (``bot/services/archive.py``: JSON Lines per collection, a
manifest with counts and checksums, the workbook for people) is built off
the event loop, sent as a document, and deleted here: the bot keeps no copy
of it beyond the scheduled backups.  Managers and reps are told it is for
admins.  The export is audited by the service.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.domain.models import Role, StaffUser
from bot.render import render
from handlers import common

#: Telegram refuses documents a bot sends above 50 MB.
DOCUMENT_LIMIT = 50 * 1024 * 1024


@common.command_handler("/backup", needs=Role.ADMIN)
async def backup(update: Update, context: common.Context, staff: StaffUser, language: str) -> None:
    svc = common.services(context)
    await common.reply_html(update, context, render(language, "archive_working"), language)
    directory = Path(tempfile.mkdtemp(prefix="crm-bot-export-"))
    try:
        written = await svc.archive.export_all(staff, directory)
        data = await asyncio.to_thread(written.path.read_bytes)
        size = len(data)
        if size > DOCUMENT_LIMIT:
            await common.reply_html(
                update, context,
                render(language, "archive_too_big", megabytes=round(size / 1024 / 1024)), language,
            )
            return
        await context.bot.send_document(
            update.effective_chat.id,
            data,
            filename=written.path.name,
            caption=render(language, "archive_sent", counts=written.manifest.counts,
                           total=written.records),
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, directory, True)


def handlers() -> list[BaseHandler]:
    return [CommandHandler("backup", backup)]
