"""Use cases: what the bot does, combining the store and the domain rules.

Handlers call these and present the result; nothing here imports
``telegram``. ``Services`` is the container the composition root builds
once and every handler reaches through ``handlers.common.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.clock import Clock
from bot.config import Config
from bot.services.archive import ArchiveService
from bot.services.audit import AuditService
from bot.services.customers import CustomerService
from bot.services.deals import DealService
from bot.services.delivery import DeliveryService
from bot.services.drafts import DraftSaves
from bot.services.errors import StorageIncidents
from bot.services.feedback import FeedbackService
from bot.services.imports import ImportService
from bot.services.interactions import InteractionService
from bot.services.invitations import InvitationService
from bot.services.leases import Leases
from bot.services.notes import NoteService
from bot.services.reminder_generation import ReminderGenerator
from bot.services.reminders import ReminderService
from bot.services.reports import ReportService
from bot.services.staff import StaffService
from bot.services.todos import TodoService
from bot.services.visits import VisitService
from storage.base import Store


@dataclass
class Services:
    config: Config
    store: Store
    clock: Clock
    audit: AuditService = field(init=False)
    staff: StaffService = field(init=False)
    invitations: InvitationService = field(init=False)
    customers: CustomerService = field(init=False)
    reminders: ReminderService = field(init=False)
    generator: ReminderGenerator = field(init=False)
    delivery: DeliveryService = field(init=False)
    interactions: InteractionService = field(init=False)
    feedback: FeedbackService = field(init=False)
    reports: ReportService = field(init=False)
    imports: ImportService = field(init=False)
    deals: DealService = field(init=False)
    drafts: DraftSaves = field(init=False)
    todos: TodoService = field(init=False)
    notes: NoteService = field(init=False)
    storage: StorageIncidents = field(init=False)
    archive: ArchiveService = field(init=False)
    leases: Leases = field(init=False)
    visits: VisitService = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditService(self.store, self.clock)
        self.drafts = DraftSaves(self.store, self.clock)
        self.archive = ArchiveService(self.store, self.clock, self.config, self.audit)
        self.leases = Leases(self.store, self.clock)  # work one replica at a time does
        self.storage = StorageIncidents(self.store, self.clock, self.config.access.admins)
        self.staff = StaffService(self.store, self.clock, self.config, self.audit)
        self.invitations = InvitationService(self.store, self.clock, self.config, self.audit)
        self.reminders = ReminderService(self.store, self.clock, self.config)
        self.customers = CustomerService(self.store, self.clock, self.config, self.audit, self.reminders)
        self.generator = ReminderGenerator(self.store, self.clock, self.config, self.reminders,
                                           reclassify=self.customers.reclassify)
        self.delivery = DeliveryService(self.store, self.clock, self.config, self.reminders)
        self.interactions = InteractionService(
            self.store, self.clock, self.config, self.audit, self.customers, self.reminders)
        self.visits = VisitService(self.store, self.clock, self.config, self.audit, self.customers)
        self.feedback = FeedbackService(
            self.store, self.clock, self.config, self.audit, self.customers, self.reminders)
        self.todos = TodoService(self.store, self.clock, self.config, self.audit, self.customers, self.reminders)
        files = None
        if self.config.notes.keep_local_copies and self.config.storage.backend == "tinydb":
            files = Path(self.config.storage.path) / "note_files"
        self.notes = NoteService(self.store, self.clock, self.config, self.audit, self.customers, files)
        self.deals = DealService(self.store, self.clock, self.config, self.audit, self.customers,
                                 self.interactions, self.reminders)
        self.reports = ReportService(self.store, self.clock, self.config, self.customers,
                                     audit=self.audit, reminders=self.reminders)
        self.imports = ImportService(self.store, self.clock, self.config, self.audit, self.customers)
