"""Use cases: what the bot does, combining the store and the domain rules.

Handlers call these and present the result; nothing here imports
``telegram``. ``Services`` is the container the composition root builds
once and every handler reaches through ``handlers.common.services``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Config
from bot.services.staff import StaffService
from storage.base import Store


@dataclass
class Services:
    config: Config
    store: Store
    clock: Clock
    staff: StaffService = field(init=False)

    def __post_init__(self) -> None:
        self.staff = StaffService(self.store, self.clock, self.config)
