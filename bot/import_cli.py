"""``crm-bot import FILE --owner ID [--dry-run]``: the chat's import, from a terminal (issue 16).

The same ``ImportService`` and the same screens as in chat (rendered as plain text): the
preview, then — unless ``--dry-run`` — the import with its progress, the summary, and the
rejected rows written beside the file as ``<name>-rejected.csv``. It acts as an admin
(the operator who can run the command can read the data directory anyway) and is audited
as ``cli``. An import of the same file that a crash interrupted is resumed, not repeated.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.clock import SystemClock
from bot.config import Config
from bot.domain.imports.files import MAX_FILE_BYTES, FileRefused, check_size
from bot.domain.models import Role, StaffUser
from bot.i18n import gettext_for
from bot.services import Services
from bot.services.errors import AccessDenied, Invalid
from bot.services.imports import rejected_csv

CLI_ACTOR = StaffUser(id="cli", telegram_id=0, name="crm-bot import", role=Role.ADMIN)


async def run_import(config: Config, path: str, owner: str, *, dry_run: bool, language: str | None = None) -> int:
    from bot.console import html_to_terminal
    from bot.runner import make_store
    from handlers.imports import REASON_COLUMN, describe, preview_text, refusal, summary_text

    language = language or config.locale.default_language
    file = Path(path)
    if not file.is_file():
        print(f"crm-bot: no such file: {path}", file=sys.stderr)
        return 2
    try:
        check_size(file.stat().st_size)
    except FileRefused as refused:
        print(html_to_terminal(refusal(language, refused)), file=sys.stderr)
        return 2
    data = file.read_bytes()[:MAX_FILE_BYTES + 1]
    store = make_store(config)
    await store.open()
    try:
        svc = Services(config=config, store=store, clock=SystemClock())
        imports = svc.imports
        person = await store.staff.get(owner)
        if person is None and owner.isdigit():
            person = await store.staff.get_by("telegram_id", int(owner))
        if person is None:
            print(f"crm-bot: no staff member {owner!r} (give a staff id or Telegram user id)", file=sys.stderr)
            return 2
        try:
            job_id = None if dry_run else await imports.find_resumable(CLI_ACTOR, data)
            if job_id is not None:
                print(f"Resuming the interrupted import {job_id} of this file.")
                await imports.reload(job_id, await imports.job(CLI_ACTOR, job_id), data)
            else:
                preview = await imports.start(CLI_ACTOR, file.name, data, source={"path": str(file.resolve())},
                                              language=language)
                job_id = preview.job_id
                preview = await imports.set_owner(CLI_ACTOR, job_id, person.id)
                print(html_to_terminal(preview_text(preview, language)))
            if dry_run:
                await imports.cancel(CLI_ACTOR, job_id)
                print("\n(dry run: nothing was stored)")
                return 0

            async def progress(done: int, total: int) -> None:
                print(f"\r{done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

            summary = await imports.commit(CLI_ACTOR, job_id, progress=progress)
        except (FileRefused, Invalid) as refused:
            print(html_to_terminal(refusal(language, refused)), file=sys.stderr)
            return 2
        except AccessDenied as denied:
            print(f"crm-bot: refused: {denied}", file=sys.stderr)
            return 2
        print(html_to_terminal(summary_text(summary, language)))
        if summary.rejected:
            target = file.with_name(f"{file.stem}-rejected.csv")
            target.write_bytes(rejected_csv(summary, gettext_for(language)(REASON_COLUMN), describe(language)))
            print(f"rejected rows: {target}")
        return 0
    finally:
        await store.close()
