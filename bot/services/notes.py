"""The notes timeline of a customer's card: dated notes of text, voice notes, photos and documents.

A note keeps Telegram's ``file_id`` and the file's metadata, not its bytes:
the bot re-sends a file by its id when somebody opens it from the history.
With ``[notes] keep_local_copies`` (TinyDB backend) the handler also downloads
each file and hands the bytes here, and a copy is kept under the data
directory (``<data>/note_files/<file_unique_id>``) so that an export of the
directory is complete.

Whoever sees the customer sees and adds its notes
(``bot.domain.access.can_view_customer``); every note is audited.

The customer's old single ``notes`` field becomes the first note of its
timeline (``migrate_legacy``, run at every start-up: idempotent, the note's id
is derived from the customer's, and a changed field updates that note).  The
field itself is kept as it was, so nothing is lost and an older crm-bot still
reads the records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
from pathlib import Path

from bot.clock import Clock
from bot.config import Config
from bot.domain.models import Customer, Note, NoteAttachment, StaffUser
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.drafts import insert_once
from bot.services.errors import AccessDenied
from storage.base import DuplicateError, Store

LEGACY_ACTOR = "system"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def legacy_id(customer_id: str) -> str:
    """The id of the note a customer's old ``notes`` field became (at most 64 characters)."""
    plain = f"legacy-{customer_id}"
    return plain if len(plain) <= 64 else "legacy-" + hashlib.sha256(customer_id.encode()).hexdigest()[:40]


class NoteService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService,
                 customers: CustomerService, files_dir: Path | None = None) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers
        self.files_dir = files_dir  # where local copies go (None: none are kept)

    @property
    def keeps_local_copies(self) -> bool:
        return self.files_dir is not None

    async def add(self, actor: StaffUser, customer_id: str, *, text: str, attachments: list[NoteAttachment],
                  record_id: str | None = None) -> Note:
        customer = await self.customers.visible(actor, customer_id)
        now = self.clock.now()
        note = Note(customer_id=customer.id, owner_id=customer.owner_id, author_id=actor.id, text=text,
                    attachments=attachments, created_at=now, updated_at=now,
                    **({"id": record_id} if record_id else {}))
        saved = await insert_once(self.store.notes, note)
        await self.audit.record_change(actor.id, "create", "note", None, saved)
        return saved

    async def for_customer(self, actor: StaffUser, customer_id: str) -> list[Note]:
        """The customer's notes, newest first."""
        customer = await self.customers.visible(actor, customer_id)
        return await self.store.notes.find({"customer_id": customer.id, "deleted": False},
                                           order_by="created_at", descending=True)

    async def get(self, actor: StaffUser, note_id: str) -> tuple[Note, Customer]:
        note = await self.store.notes.get(note_id) if len(note_id) <= 64 else None
        if note is None or note.deleted:
            raise AccessDenied(f"note {note_id}")
        customer = await self.customers.visible(actor, note.customer_id)
        return note, customer

    async def attachment(self, actor: StaffUser, note_id: str, index: int) -> tuple[Note, NoteAttachment]:
        """One file of a note (to re-send it), if the actor sees the note's customer."""
        note, _customer = await self.get(actor, note_id)
        if not 0 <= index < len(note.attachments):
            raise AccessDenied(f"note {note_id} file {index}")
        return note, note.attachments[index]

    async def keep_copy(self, attachment: NoteAttachment, content: bytes) -> NoteAttachment:
        """Write a local copy of a file (when configured); returns the attachment with its path."""
        if self.files_dir is None:
            return attachment
        name = _SAFE.sub("_", attachment.file_unique_id or attachment.file_id)[:100]
        target = self.files_dir / name

        def write() -> None:
            self.files_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            partial = target.with_suffix(".part")
            partial.write_bytes(content)
            partial.replace(target)

        await asyncio.to_thread(write)
        return dataclasses.replace(attachment, local_path=f"{self.files_dir.name}/{name}")

    async def migrate_legacy(self) -> int:
        """Each customer's old ``notes`` text as the first note of its timeline; returns how many
        notes were written (0 the second time)."""
        written = 0
        for customer in await self.store.customers.find():
            text = (customer.notes or "").strip()
            if not text:
                continue
            note_id = legacy_id(customer.id)
            existing = await self.store.notes.get(note_id)
            if existing is not None:
                if existing.text == text or existing.deleted:
                    continue
                before = existing
                saved = await self.store.notes.update(dataclasses.replace(
                    existing, text=text, owner_id=customer.owner_id, updated_at=self.clock.now()))
                await self.audit.record_change(LEGACY_ACTOR, "update", "note", before, saved)
                written += 1
                continue
            note = Note(id=note_id, customer_id=customer.id, owner_id=customer.owner_id,
                        author_id=customer.created_by or customer.owner_id, text=text, legacy=True,
                        created_at=customer.created_at, updated_at=self.clock.now())
            try:
                saved = await self.store.notes.insert(note)
            except DuplicateError:
                continue  # another replica moved it a moment ago
            await self.audit.record_change(LEGACY_ACTOR, "create", "note", None, saved)
            written += 1
        return written

