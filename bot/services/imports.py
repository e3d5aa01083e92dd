"""Importing customers from a file: preview, mapping, owner, duplicates, a resumable commit.

An import is a **job** in the ``kv`` collection (``import:<job id>``, namespace ``import``):
who imports, the file (its SHA-256 and where to get it again: a Telegram ``file_id`` or a
path), the sheet, the header row, the column mapping, the owner, the duplicate policy, its
status (``preview`` → ``running`` → ``done``; or ``cancelled`` / ``rolled_back``) and how far
it got. Nothing but the job is written before the user confirms.

**Resumable, never duplicated.** Every record an import writes has an id derived from the
job and the row (``<job>-<row>`` for the customer, ``…p`` its purchase, ``…a`` its audit
event), and each batch of :data:`BATCH` rows is ONE transaction (``store.atomic``): its
customers, purchases and audit events, the fields it merges into existing customers, and the
job's progress (``done``: rows of the file's writable rows; ``done_row``: the last sheet row
committed), so after a ``kill -9`` the job says exactly which rows are in, and no batch is
half there. The job's ``done`` status commits with its audit event. A commit that is run
again — after a crash, a restart, or a second tap — also finds the rows already written by
those ids and writes only the rest (the second safety net). A job left ``running``
is listed by :meth:`ImportService.unfinished`; the bot tells its user after a restart and
offers to resume it or to roll it back (:meth:`ImportService.roll_back` deletes what it
created; fields it filled into existing customers stay, as their audit events say).

**Off the event loop.** Parsing, converting rows and building records run in
``asyncio.to_thread`` (a batch's records are built before its transaction opens); the
writes go through the async store in batches of :data:`BATCH` with ``await asyncio.sleep(0)``
between them, so other users are served.

Access: only managers and admins import (``access.can_import``); a manager's import goes
to themself or a rep of their team (``access.can_import_for``); every job is its importer's.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import gc
import hashlib
import io
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.domain import access, card
from bot.domain.classification import classify
from bot.domain.codec import from_dict, to_dict
from bot.domain.imports import files
from bot.domain.imports import mapping as mapping_rules
from bot.domain.imports.files import FileRefused, ParsedFile
from bot.domain.imports.rows import RowResult, convert_row, file_duplicates
from bot.domain.models import AuditEvent, Customer, Purchase, Role, StaffUser, new_id
from bot.domain.search import search_doc
from bot.services.audit import AuditService, diff
from bot.services.customers import CustomerService
from bot.services.errors import AccessDenied, Invalid
from bot.workbooks import read_xlsx
from storage.base import DuplicateError, NotFoundError, Range, Store, Transaction

log = logging.getLogger(__name__)

NAMESPACE = "import"
BATCH = 100  # rows per insert_many: TinyDB encodes a batch on the loop (~30 ms per 100 rows)
SAMPLES = 3
POLICIES = ("skip", "merge")
_CACHE = 8  # parsed files (and converted rows) kept in memory: mapping changes re-read nothing
FREEZE_FROM = 1_000  # rows from which the converted file is put out of the collector's reach
SIMILAR_CHUNK = 500
PHONE_CHUNK = 100  # phone look-ups awaited together
SCAN_PAGE = 500  # customers per page when reading them all is cheaper than a look-up per phone
PHONES_MARGIN = timedelta(seconds=5)  # clocks of replicas writing the same database may differ a little  # rows per search-index job (other users' searches wait behind one job)

Progress = Callable[[int, int], Awaitable[None]]

__all__ = ["FileRefused", "ImportService", "Preview", "Summary"]


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    target: str  # a card field, purchase.*, note or ignore
    known: bool  # the header named a field
    sample: str  # the first non-empty value under it


@dataclass(frozen=True)
class Rejected:
    """A row not imported: its line in the sheet (1-based), its cells and why (column, code, params)."""

    line: int
    cells: list[str]
    reasons: list[tuple[str, str, dict[str, Any]]]


@dataclass(frozen=True)
class Preview:
    job_id: str
    status: str
    file_name: str
    kind: str
    encoding: str | None
    sheets: tuple[str, ...]
    sheet: int
    header_line: int  # 1-based
    columns: tuple[Column, ...]
    rows: int  # data rows that are not blank
    new: int
    duplicates_file: int
    duplicates_store: int
    invalid: int
    blank: int
    reasons: tuple[tuple[str, str, dict[str, Any], int], ...]  # (column, code, params, rows), commonest first
    samples: tuple[dict[str, Any], ...]  # drafts of the first new rows, as they will be saved
    owner: StaffUser | None
    policy: str
    done: int = 0  # rows written so far (an interrupted job)

    @property
    def unknown(self) -> list[Column]:
        return [c for c in self.columns if c.header and not c.known]


@dataclass(frozen=True)
class Summary:
    job_id: str
    file_name: str
    owner: StaffUser | None
    created: int
    merged: int
    skipped: int  # duplicates not imported
    invalid: int
    rejected: tuple[Rejected, ...]
    header: tuple[str, ...]
    already_done: bool = False  # the job had finished before this call: nothing was written twice


@dataclass
class _Plan:
    """What a commit does with each row, worked out from the file, the mapping and the store."""

    results: list[RowResult]
    file_dups: dict[int, int]
    store_dups: dict[int, str] = field(default_factory=dict)  # row -> existing customer id
    done_rows: set[int] = field(default_factory=set)  # rows this job already created


def record_id(job_id: str, row: int, suffix: str = "") -> str:
    """The id of what row ``row`` of job ``job_id`` creates: the same on every attempt."""
    return f"{job_id}-{row}{suffix}"


class ImportService:
    def __init__(self, store: Store, clock: Clock, config: Config, audit: AuditService,
                 customers: CustomerService) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.audit = audit
        self.customers = customers
        self._files: OrderedDict[str, ParsedFile] = OrderedDict()
        self._converted: dict[tuple[Any, ...], tuple[list[RowResult], dict[int, int], dict[int, Any]]] = {}
        self._phones_seen: dict[tuple[Any, ...], tuple[datetime, dict[int, list[str]]]] = {}

    # ---- access ---------------------------------------------------------------------------
    @staticmethod
    def check_may_import(actor: StaffUser | None) -> StaffUser:
        if actor is None or not access.can_import(actor):
            raise AccessDenied("import", needs=access.missing_role(actor, Role.MANAGER) or Role.MANAGER)
        return actor

    async def owner_choices(self, actor: StaffUser) -> list[StaffUser]:
        """Whom ``actor``'s import may give its customers to (a manager: themself and their team's reps)."""
        self.check_may_import(actor)
        staff = await self.store.staff.find({"active": True})
        return sorted((s for s in staff if access.can_import_for(actor, s)), key=lambda s: (s.name, s.id))

    # ---- the job --------------------------------------------------------------------------
    @staticmethod
    def _key(job_id: str) -> str:
        return f"{NAMESPACE}:{job_id}"

    async def _job(self, actor: StaffUser, job_id: str) -> dict[str, Any]:
        self.check_may_import(actor)
        found = await self.store.kv.get(self._key(job_id)) if len(job_id) <= 40 else None
        if found is None or found.value.get("actor_id") != actor.id:
            raise AccessDenied(f"import {job_id}")
        return dict(found.value)

    async def _save_job(self, job_id: str, job: dict[str, Any]) -> None:
        await self.store.kv.put(self._key(job_id), job, namespace=NAMESPACE, now=self.clock.now())

    def _remember(self, job_id: str, parsed: ParsedFile) -> None:
        self._files[job_id] = parsed
        self._files.move_to_end(job_id)
        while len(self._files) > _CACHE:
            self._files.popitem(last=False)

    async def _parsed(self, job_id: str, job: dict[str, Any]) -> ParsedFile:
        parsed = self._files.get(job_id)
        if parsed is not None:
            return parsed
        path = job.get("source", {}).get("path")
        if path:  # a CLI import: the file is where it was
            data = await asyncio.to_thread(_read_path, path)
            return await self.reload(job_id, job, data)
        raise Invalid("import.file_needed", detail=f"import {job_id}: the file is not in memory")

    async def reload(self, job_id: str, job: dict[str, Any], data: bytes) -> ParsedFile:
        """The job's file again (after a restart); refused unless it is the very same file."""
        if hashlib.sha256(data).hexdigest() != job.get("sha256"):
            raise Invalid("import.file_changed", detail=f"import {job_id}: another file")
        parsed = await asyncio.to_thread(files.read_file, job["file_name"], data, read_workbook=read_xlsx)
        self._remember(job_id, parsed)
        return parsed

    async def start(self, actor: StaffUser, file_name: str, data: bytes, *, source: dict[str, Any],
                    chat_id: int | None = None, language: str | None = None) -> Preview:
        """Read the file (refused: ``FileRefused``) and open a job on it; nothing else is written."""
        self.check_may_import(actor)
        parsed = await asyncio.to_thread(files.read_file, file_name, data, read_workbook=read_xlsx)
        job_id = new_id()
        sheet = parsed.sheets[0]
        header_row = mapping_rules.find_header(sheet.rows)
        owners = await self.owner_choices(actor)
        owner = actor if any(o.id == actor.id for o in owners) else (owners[0] if len(owners) == 1 else None)
        job = {
            "status": "preview", "actor_id": actor.id, "owner_id": owner.id if owner else None,
            "policy": "skip", "file_name": file_name[:200], "sha256": hashlib.sha256(data).hexdigest(),
            "source": source, "sheet": 0, "header_row": header_row,
            "mapping": mapping_rules.guess_mapping(sheet.rows[header_row] if sheet.rows else []),
            "rows": len(sheet.rows), "done": 0, "chat_id": chat_id, "language": language,
            "started_at": self.clock.now().isoformat(),
        }
        self._remember(job_id, parsed)
        await self._save_job(job_id, job)
        return await self.preview(actor, job_id)

    async def job_status(self, actor: StaffUser, job_id: str) -> str:
        return str((await self._job(actor, job_id))["status"])

    async def choose_sheet(self, actor: StaffUser, job_id: str, sheet: int) -> Preview:
        job = await self._editable(actor, job_id)
        parsed = await self._parsed(job_id, job)
        if not 0 <= sheet < len(parsed.sheets):
            raise Invalid("import.no_such_sheet")
        rows = parsed.sheets[sheet].rows
        job["sheet"], job["header_row"], job["rows"] = sheet, mapping_rules.find_header(rows), len(rows)
        job["mapping"] = mapping_rules.guess_mapping(rows[job["header_row"]] if rows else [])
        await self._save_job(job_id, job)
        return await self.preview(actor, job_id)

    async def set_column(self, actor: StaffUser, job_id: str, column: int, target: str) -> Preview:
        """Map one column to a field, to the notes (``note``) or to nothing (``ignore``)."""
        job = await self._editable(actor, job_id)
        if target not in mapping_rules.TARGETS or not 0 <= column < len(job["mapping"]):
            raise Invalid("import.no_such_column")
        mapped = list(job["mapping"])
        if target not in mapping_rules.MULTI:  # a one-value field: the column it was on lets go of it
            mapped = [mapping_rules.NOTE if t == target else t for t in mapped]
        mapped[column] = target
        job["mapping"] = mapped
        await self._save_job(job_id, job)
        return await self.preview(actor, job_id)

    async def set_owner(self, actor: StaffUser, job_id: str, owner_id: str) -> Preview:
        job = await self._editable(actor, job_id)
        owner = await self.store.staff.get(owner_id) if len(owner_id) <= 64 else None
        if owner is None or not access.can_import_for(actor, owner):
            raise AccessDenied(f"import {job_id} for {owner_id}")
        job["owner_id"] = owner.id
        await self._save_job(job_id, job)
        return await self.preview(actor, job_id)

    async def set_policy(self, actor: StaffUser, job_id: str, policy: str) -> Preview:
        job = await self._editable(actor, job_id)
        if policy not in POLICIES:
            raise Invalid("import.no_such_policy")
        job["policy"] = policy
        await self._save_job(job_id, job)
        return await self.preview(actor, job_id)

    async def cancel(self, actor: StaffUser, job_id: str) -> None:
        """Drop a job not yet started (a running one is rolled back instead: :meth:`roll_back`)."""
        job = await self._job(actor, job_id)
        if job["status"] == "running":
            await self.roll_back(actor, job_id)
            return
        if job["status"] == "done" or job["status"] == "rolled_back":
            raise Invalid("import.not_editable", status=job["status"])
        if job["status"] == "preview":
            job["status"] = "cancelled"
            await self._save_job(job_id, job)
        self._forget(job_id)

    def _forget(self, job_id: str) -> None:
        self._files.pop(job_id, None)
        for key in [k for k in self._converted if k[0] == job_id]:
            del self._converted[key]
        for key in [k for k in self._phones_seen if k[0] == job_id]:
            del self._phones_seen[key]

    async def _editable(self, actor: StaffUser, job_id: str) -> dict[str, Any]:
        job = await self._job(actor, job_id)
        if job["status"] != "preview":
            raise Invalid("import.not_editable", status=job["status"])
        return job

    # ---- the preview ----------------------------------------------------------------------
    def _context(self) -> card.InputContext:
        return self.customers.input_context()

    async def _plan(self, actor: StaffUser, job_id: str, job: dict[str, Any]) -> _Plan:
        parsed = await self._parsed(job_id, job)
        rows = parsed.sheets[job["sheet"]].rows
        header_row, mapped = job["header_row"], job["mapping"]
        header = rows[header_row] if rows else []
        ctx = self._context()

        def convert() -> tuple[list[RowResult], dict[int, int], dict[int, Any]]:
            results = [convert_row(i, rows[i], header, mapped, ctx) for i in range(header_row + 1, len(rows))]
            repeats = file_duplicates(results)
            docs = {}
            for r in results:
                if r.valid and r.index not in repeats:
                    new = card.customer_from_draft(r.draft, owner_id=actor.id, team=None, created_by=actor.id,
                                                   now=self.clock.now())
                    docs[r.index] = search_doc(dataclasses.replace(new, id=record_id(job_id, r.index)))
            return results, repeats, docs

        key = (job_id, job["sheet"], header_row, tuple(mapped), ctx)
        cached = self._converted.get(key)
        if cached is None:
            cached = self._converted[key] = await asyncio.to_thread(convert)
            _out_of_gc_reach(len(rows))
            while len(self._converted) > _CACHE:
                self._phones_seen.pop(next(iter(self._converted)), None)
                self._converted.pop(next(iter(self._converted)))
        results, repeats, docs = cached
        plan = _Plan(results, repeats)
        own = f"{job_id}-"
        resumed = job["status"] == "running"  # an earlier attempt may have written some rows
        pending: list[int] = []
        candidates = [r for r in results if r.index in docs]
        # the store's phone index covers everyone's customers; looked up a chunk at a time, side by
        # side (the SQL backend answers each in its own thread)
        lookups = [(r.index, phone) for r in candidates for phone in r.draft.get("phones", [])]
        matches = await self._phone_matches(key, lookups)
        if resumed:
            unseen = [r.index for r in candidates if record_id(job_id, r.index) not in matches.get(r.index, ())]
            for start in range(0, len(unseen), PHONE_CHUNK):
                chunk = unseen[start:start + PHONE_CHUNK]
                found_ids = await asyncio.gather(*(self._exists(record_id(job_id, i)) for i in chunk))
                plan.done_rows.update(i for i, there in zip(chunk, found_ids, strict=True) if there)
        for result in candidates:
            mine = record_id(job_id, result.index)
            ids = matches.get(result.index, [])
            if mine in ids:
                plan.done_rows.add(result.index)
            if result.index in plan.done_rows:
                continue
            existing = next((i for i in ids if not i.startswith(own)), None)
            if existing is not None:
                plan.store_dups[result.index] = existing
            else:
                pending.append(result.index)
        # e-mail, or a similar name in the same company: in the search index, a chunk per worker job
        for start in range(0, len(pending), SIMILAR_CHUNK):
            chunk = pending[start:start + SIMILAR_CHUNK]
            found = await self.customers.search_index.similar_many(actor, [docs[i] for i in chunk])
            for index, duplicates in zip(chunk, found, strict=True):
                other = next((d.customer_id for d in duplicates if not d.customer_id.startswith(own)), None)
                if other is not None:
                    plan.store_dups[index] = other
        return plan

    async def _phone_matches(self, key: tuple[Any, ...], lookups: list[tuple[int, str]]) -> dict[int, list[str]]:
        """Row → ids of the customers holding one of its phones, by the store's phone index.

        The commit right after a preview does not look every phone up again: it takes the
        preview's answers and adds the customers written since (``updated_at`` is a ranged
        field; a new or edited customer's phones are in its record), one query instead of one
        per phone — on the SQL backend the look-ups were most of an import's time.
        """
        checked_at = self.clock.now()
        earlier = self._phones_seen.get(key)
        matches: dict[int, list[str]] = {}
        if earlier is not None:
            since, known = earlier
            for index, ids in known.items():
                matches[index] = list(ids)
            changed = await self.store.customers.find(within=Range("updated_at", since - PHONES_MARGIN, None))
            holders: dict[str, list[str]] = {}
            for customer in changed:
                for phone in customer.phones:
                    holders.setdefault(phone, []).append(customer.id)
            for index, phone in lookups:
                for customer_id in holders.get(phone, ()):
                    if customer_id not in matches.setdefault(index, []):
                        matches[index].append(customer_id)
        elif lookups and await self.store.customers.count() <= len(lookups):
            # no more customers than phones to look up (a first import, a small team): reading them
            # all, a page at a time, is fewer queries than one per phone -- the same answers
            holders = await self._phone_holders()
            for index, phone in lookups:
                matches.setdefault(index, []).extend(holders.get(phone, ()))
        else:
            for start in range(0, len(lookups), PHONE_CHUNK):
                chunk = lookups[start:start + PHONE_CHUNK]
                found = await asyncio.gather(*(self.store.customers.find({"phones": p}) for _i, p in chunk))
                for (index, _phone), customers in zip(chunk, found, strict=True):
                    matches.setdefault(index, []).extend(c.id for c in customers)
        self._phones_seen[key] = (checked_at, {i: list(ids) for i, ids in matches.items()})
        return matches

    async def _phone_holders(self) -> dict[str, list[str]]:
        """Phone → ids of every customer holding it, read a page of :data:`SCAN_PAGE` at a time."""
        holders: dict[str, list[str]] = {}
        offset = 0
        while True:
            page = await self.store.customers.find(order_by="id", offset=offset, limit=SCAN_PAGE)
            for customer in page:
                for phone in customer.phones:
                    holders.setdefault(phone, []).append(customer.id)
            if len(page) < SCAN_PAGE:
                return holders
            offset += len(page)
            await asyncio.sleep(0)

    async def _exists(self, customer_id: str) -> bool:
        return await self.store.customers.get(customer_id) is not None

    async def preview(self, actor: StaffUser, job_id: str) -> Preview:
        job = await self._job(actor, job_id)
        parsed = await self._parsed(job_id, job)
        plan = await self._plan(actor, job_id, job)
        rows = parsed.sheets[job["sheet"]].rows
        header = rows[job["header_row"]] if rows else []
        reasons: Counter[tuple[str, str, str]] = Counter()
        params: dict[tuple[str, str, str], dict[str, Any]] = {}
        for result in plan.results:
            for column, code, values in result.errors[:1]:
                key = (column, code, repr(sorted(values.items())))
                reasons[key] += 1
                params[key] = values
        columns = []
        for index, target in enumerate(job["mapping"]):
            cell = header[index] if index < len(header) else ""
            sample = next((r.cells[index] for r in plan.results if index < len(r.cells) and r.cells[index]), "")
            columns.append(Column(index, cell, target, mapping_rules.target_for(cell) is not None, sample[:40]))
        new_rows = [r for r in plan.results if r.valid and r.index not in plan.file_dups
                    and r.index not in plan.store_dups]
        owner = await self.store.staff.get(job["owner_id"]) if job.get("owner_id") else None
        return Preview(
            job_id=job_id, status=job["status"], file_name=job["file_name"], kind=parsed.kind,
            encoding=parsed.encoding, sheets=tuple(s.name for s in parsed.sheets), sheet=job["sheet"],
            header_line=job["header_row"] + 1, columns=tuple(columns),
            rows=sum(1 for r in plan.results if not r.blank), new=len(new_rows),
            duplicates_file=len(plan.file_dups), duplicates_store=len(plan.store_dups),
            invalid=sum(1 for r in plan.results if not r.blank and r.errors),
            blank=sum(1 for r in plan.results if r.blank),
            reasons=tuple((k[0], k[1], params[k], n) for k, n in reasons.most_common(5)),
            samples=tuple({**r.draft, "purchase": r.purchase} for r in new_rows[:SAMPLES]),
            owner=owner, policy=job["policy"], done=int(job.get("done", 0)),
        )

    # ---- the commit -----------------------------------------------------------------------
    async def commit(self, actor: StaffUser, job_id: str, *, progress: Progress | None = None,
                     data: bytes | None = None) -> Summary:
        """Write the import (or the rest of it, when resumed); ``data``: the file again after a restart."""
        job = await self._job(actor, job_id)
        if data is not None and job_id not in self._files:
            await self.reload(job_id, job, data)
        if job["status"] == "done":
            return self._summary_from(job_id, job, already_done=True)
        if job["status"] not in ("preview", "running"):
            raise Invalid("import.not_editable", status=job["status"])
        owner = await self.store.staff.get(job["owner_id"]) if job.get("owner_id") else None
        if owner is None:
            raise Invalid("import.no_owner")
        if not access.can_import_for(actor, owner):
            raise AccessDenied(f"import {job_id} for {owner.id}")
        plan = await self._plan(actor, job_id, job)
        job["status"] = "running"
        await self._save_job(job_id, job)
        team = next((t for t in owner.teams if actor.role is Role.ADMIN or t in actor.teams),
                    owner.teams[0] if owner.teams else None)
        writable = [r for r in plan.results if r.valid and r.index not in plan.file_dups]
        total = len(writable)
        created = merged = skipped = 0
        rejected: list[Rejected] = []
        for start in range(0, total, BATCH):
            batch = writable[start:start + BATCH]
            job = {**job, "done": min(total, start + BATCH), "done_row": batch[-1].index}
            c, m, s, refused = await self._write_batch(actor, job_id, job, owner, team, batch, plan)
            created, merged, skipped = created + c, merged + m, skipped + s
            rejected.extend(refused)
            if progress is not None:
                await progress(job["done"], total)
            await asyncio.sleep(0)  # other users' updates between batches
        for result in plan.results:
            if not result.blank and result.errors:
                rejected.append(Rejected(result.index + 1, result.cells, result.errors))
            elif result.index in plan.file_dups:
                rejected.append(Rejected(result.index + 1, result.cells,
                                         [("", "import.duplicate_in_file", {"line": plan.file_dups[result.index] + 1})]))
        rejected.sort(key=lambda r: r.line)
        parsed = await self._parsed(job_id, job)
        header = parsed.sheets[job["sheet"]].rows[job["header_row"]]
        invalid = sum(1 for r in plan.results if not r.blank and r.errors)
        job.update(status="done", done=total, counts={
            "created": created, "merged": merged, "skipped": skipped + len(plan.file_dups), "invalid": invalid})
        job["rejected"] = [[r.line, r.cells, r.reasons] for r in rejected[:5000]]
        job["header"] = header
        note = (f"{job['file_name']}: {created} created, {merged} merged, {skipped + len(plan.file_dups)} "
                f"duplicates skipped, {invalid} invalid; owner {owner.id}")

        async def finish(tx: Transaction) -> None:  # the job is done exactly when its audit event is there
            await self.audit.record(actor.id, "import", "import", job_id, note=note, tx=tx)
            await tx.kv.put(self._key(job_id), job, namespace=NAMESPACE, now=self.clock.now())

        await self.store.atomic(finish)
        self._forget(job_id)
        _out_of_gc_reach(total)  # the new records now live in the store's memory and the search index
        return self._summary_from(job_id, job, owner=owner)

    def _summary_from(self, job_id: str, job: dict[str, Any], *, owner: StaffUser | None = None,
                      already_done: bool = False) -> Summary:
        counts = job.get("counts", {})
        return Summary(
            job_id=job_id, file_name=job["file_name"], owner=owner, created=counts.get("created", 0),
            merged=counts.get("merged", 0), skipped=counts.get("skipped", 0), invalid=counts.get("invalid", 0),
            rejected=tuple(Rejected(line, cells, [tuple(r) for r in reasons])  # type: ignore[misc]
                           for line, cells, reasons in job.get("rejected", [])),
            header=tuple(job.get("header", [])), already_done=already_done,
        )

    async def _write_batch(
        self, actor: StaffUser, job_id: str, job: dict[str, Any], owner: StaffUser, team: str | None,
        batch: Sequence[RowResult], plan: _Plan,
    ) -> tuple[int, int, int, list[Rejected]]:
        """One batch in ONE transaction: its customers, purchases and audit events, the fields it
        merges into existing customers, and ``job`` (its progress) -- after a crash the job record
        says exactly which rows are in.  A batch some of whose rows are already there (another
        attempt of the same job, racing: ``DuplicateError``) is worked out again and rerun once."""
        for attempt in range(2):
            fresh = [r for r in batch if r.index not in plan.store_dups and r.index not in plan.done_rows]
            try:
                return await self._write_once(actor, job_id, job, owner, team, batch, fresh, plan)
            except DuplicateError:
                if attempt:
                    raise
                found = await asyncio.gather(*(self._exists(record_id(job_id, r.index)) for r in fresh))
                plan.done_rows.update(r.index for r, there in zip(fresh, found, strict=True) if there)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write_once(
        self, actor: StaffUser, job_id: str, job: dict[str, Any], owner: StaffUser, team: str | None,
        batch: Sequence[RowResult], fresh: Sequence[RowResult], plan: _Plan,
    ) -> tuple[int, int, int, list[Rejected]]:
        now = self.clock.now()
        customers, purchases, events = await asyncio.to_thread(self._build, actor, job_id, owner, team, fresh, now)

        async def work(tx: Transaction) -> tuple[int, int, int, list[Rejected]]:
            await tx.customers.insert_many(customers)
            await tx.purchases.insert_many(purchases)
            await tx.audit.insert_many(events)
            created, merged, skipped, refused = await self._write_rest(
                tx, actor, job_id, job["policy"], batch, plan, now)
            await tx.kv.put(self._key(job_id), job, namespace=NAMESPACE, now=now)
            return len(customers) + created, merged, skipped, refused

        return await self.store.atomic(work)

    def _build(self, actor: StaffUser, job_id: str, owner: StaffUser, team: str | None,
               fresh: Sequence[RowResult], now: datetime) -> tuple[list[Customer], list[Purchase], list[AuditEvent]]:
        """The records of a batch's new rows (in a worker thread: CPU work over 100 rows)."""
        local_now = now.astimezone(self.config.tz)
        rules = self.customers.rules
        currency = self.config.locale.currency
        customers, purchases, events = [], [], []
        for row in fresh:
            customer = card.customer_from_draft(row.draft, owner_id=owner.id, team=team,
                                                created_by=actor.id, now=now)
            customer = dataclasses.replace(customer, id=record_id(job_id, row.index))
            bought = _purchase(row, customer, record_id(job_id, row.index, "p"), currency, now)
            result = classify(customer, [bought] if bought else [], [], local_now, rules)
            customer = dataclasses.replace(customer, value_tier=result.derived_tier, stage=result.derived_stage)
            customers.append(customer)
            if bought:
                purchases.append(bought)
            events.append(AuditEvent(id=record_id(job_id, row.index, "a"), actor_id=actor.id, action="import",
                                     entity_type="customer", entity_id=customer.id, at=now,
                                     changes=diff(None, customer), note=f"import {job_id}",
                                     created_at=now, updated_at=now))
        return customers, purchases, events

    async def _write_rest(
        self, tx: Transaction, actor: StaffUser, job_id: str, policy: str, batch: Sequence[RowResult],
        plan: _Plan, now: datetime,
    ) -> tuple[int, int, int, list[Rejected]]:
        """Inside the batch's transaction: rows created by an earlier attempt, and the duplicates."""
        currency = self.config.locale.currency
        created = 0
        # rows an earlier attempt of this job created (before batches were transactions, or a race):
        # their purchase and audit event may be missing
        for row in (r for r in batch if r.index in plan.done_rows):
            created += 1
            customer = await tx.customers.get(record_id(job_id, row.index))
            if customer is not None:
                await _insert_missing(tx, _purchase(row, customer, record_id(job_id, row.index, "p"), currency, now))
                await _insert_missing(tx, AuditEvent(
                    id=record_id(job_id, row.index, "a"), actor_id=actor.id, action="import", entity_type="customer",
                    entity_id=customer.id, at=now, changes=diff(None, customer), note=f"import {job_id}",
                    created_at=now, updated_at=now))
        merged = skipped = 0
        refused: list[Rejected] = []
        for row in (r for r in batch if r.index in plan.store_dups):
            existing_id = plan.store_dups[row.index]
            existing = await tx.customers.get(existing_id)
            visible = existing is not None and access.can_edit_customer(actor, existing)
            if policy == "merge" and visible:
                await self._merge(tx, actor, job_id, row, existing_id, currency, now)
                merged += 1
            else:
                skipped += 1
                code = "import.duplicate_store" if visible else "import.duplicate_colleague"
                refused.append(Rejected(row.index + 1, row.cells,
                                        [("", code, {"name": existing.name if visible and existing else ""})]))
        return created, merged, skipped, refused

    async def _merge(self, tx: Transaction, actor: StaffUser, job_id: str, row: RowResult, customer_id: str,
                     currency: str, now: datetime) -> None:
        """Fill the existing customer's empty fields from the row (what it has stays as it is)."""

        def fill(customer: Customer) -> Customer | None:
            stored = to_dict(customer)
            draft = card.draft_from_customer(customer)
            changed = False
            for key, value in row.draft.items():
                if key in card.HANDLE_KEYS:
                    if not customer.handles.get(key):
                        stored.setdefault("handles", {})[key] = value
                        changed = True
                elif stored.get(key) in (None, "", []) and key not in draft:
                    stored[key] = value
                    changed = True
            if not changed:
                return None
            stored["updated_at"] = now.isoformat()
            return from_dict(Customer, stored)

        try:
            before, after = await tx.customers.update_with(customer_id, fill)
        except NotFoundError:
            return
        if after is not before:
            await _insert_missing(tx, AuditEvent(
                id=record_id(job_id, row.index, "a"), actor_id=actor.id, action="import_merge",
                entity_type="customer", entity_id=customer_id, at=now, changes=diff(before, after),
                note=f"import {job_id}", created_at=now, updated_at=now))
        await _insert_missing(tx, _purchase(row, after, record_id(job_id, row.index, "p"), currency, now))
        if row.purchase:
            await self.customers.reclassify(customer_id, tx=tx)

    # ---- after a crash or a restart -------------------------------------------------------
    async def unfinished(self) -> list[tuple[str, dict[str, Any]]]:
        """Jobs left ``running`` (a crash or a restart in the middle): (job id, job), oldest first."""
        jobs = await self.store.kv.find({"namespace": NAMESPACE})
        return [(kv.id.removeprefix(f"{NAMESPACE}:"), dict(kv.value)) for kv in jobs
                if kv.value.get("status") == "running"]

    async def unfinished_with_actors(self) -> list[tuple[str, dict[str, Any], StaffUser]]:
        """:meth:`unfinished`, each with its importer (still active staff) to tell after a restart."""
        found = []
        for job_id, job in await self.unfinished():
            actor = await self.store.staff.get(str(job.get("actor_id")))
            if actor is not None and access.can_import(actor):
                found.append((job_id, job, actor))
        return found

    def has_file(self, job_id: str) -> bool:
        """Whether the job's parsed file is in memory (else the caller fetches it again: :meth:`reload`)."""
        return job_id in self._files

    async def job(self, actor: StaffUser, job_id: str) -> dict[str, Any]:
        return await self._job(actor, job_id)

    async def roll_back(self, actor: StaffUser, job_id: str) -> int:
        """Delete what an unfinished job created (customers, their purchases); returns how many customers."""
        job = await self._job(actor, job_id)
        if job["status"] != "running":
            raise Invalid("import.not_running", status=job["status"])
        parsed = self._files.get(job_id)
        last = len(parsed.sheets[job["sheet"]].rows) if parsed else int(job.get("rows", 0)) or files.MAX_ROWS + 20
        removed = 0
        for row in range(job["header_row"] + 1, last):
            await self.store.purchases.delete(record_id(job_id, row, "p"))
            if await self.store.customers.delete(record_id(job_id, row)):
                removed += 1
            if row % 200 == 0:
                await asyncio.sleep(0)
        job["status"] = "rolled_back"
        await self._save_job(job_id, job)
        await self.audit.record(actor.id, "import_rolled_back", "import", job_id,
                                note=f"{job['file_name']}: {removed} customers removed")
        self._forget(job_id)
        return removed

    async def find_resumable(self, actor: StaffUser, data: bytes) -> str | None:
        """The actor's unfinished job on this very file, if any (the CLI resumes it)."""
        digest = hashlib.sha256(data).hexdigest()
        for job_id, job in await self.unfinished():
            if job.get("actor_id") == actor.id and job.get("sha256") == digest:
                return job_id
        return None


async def _insert_missing(tx: Transaction, record: Purchase | AuditEvent | None) -> None:
    if record is None:
        return
    collection = tx.purchases if isinstance(record, Purchase) else tx.audit
    if await collection.get(record.id) is None:
        await collection.insert(record)


def _purchase(row: RowResult, customer: Customer, purchase_id: str, currency: str, now: Any) -> Purchase | None:
    if not row.purchase or "amount" not in row.purchase or not row.purchase.get("product"):
        return None
    return Purchase(
        id=purchase_id, customer_id=customer.id, owner_id=customer.owner_id, product=row.purchase["product"],
        amount=Decimal(row.purchase["amount"]), currency=row.purchase.get("currency") or currency,
        quantity=int(row.purchase.get("quantity", 1)), purchased_on=date.fromisoformat(row.purchase["purchased_on"]),
        created_at=now, updated_at=now,
    )


def _out_of_gc_reach(rows: int) -> None:
    """After a big file's rows are converted (or written), ``gc.freeze()``: a full collection
    would otherwise scan those hundreds of thousands of objects, stopping the loop for
    0.3-0.4 s (measured, ``bench/imports.py``), as the store and the search index do after
    their loads. The data is acyclic, so reference counting still frees it once dropped."""
    if rows >= FREEZE_FROM:
        gc.freeze()


def _read_path(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(files.MAX_FILE_BYTES + 1)


def rejected_csv(summary: Summary, reason_column: str, describe: Callable[[str, str, dict[str, Any]], str]) -> bytes:
    """The rejected rows as a CSV (UTF-8 with BOM, so Excel reads it): the file's own columns and
    one more saying why; fixed, it can be sent again (the reason column is ignored then)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*summary.header, reason_column])
    width = len(summary.header)
    for row in summary.rejected:
        cells = list(row.cells) + [""] * max(0, width - len(row.cells))
        writer.writerow([*(files.escape_formula(c) for c in cells),
                         "; ".join(describe(*reason) for reason in row.reasons)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
