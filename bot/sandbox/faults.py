"""Fault injection: make Bot API methods fail the ways a real network and server do.

A ``Fault`` on ``SandboxServer.faults`` applies to calls of one method while
it is active — for ``seconds`` of the sandbox clock, or for ``calls`` calls,
or both (whichever ends first), or until removed:

- ``refuse``: answer ``status`` (500 by default) *without* processing the call
  — a clear failure: nothing happened;
- ``accept_then_fail``: process the call (the message is delivered), then
  answer ``status`` — the reply is lost, the client cannot know;
- ``accept_then_drop``: process the call, then close the connection without
  an answer (a connection reset after processing).

Every call a fault touched is counted in ``hits``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class FaultMode(StrEnum):
    REFUSE = "refuse"
    ACCEPT_THEN_FAIL = "accept_then_fail"
    ACCEPT_THEN_DROP = "accept_then_drop"


@dataclass
class Fault:
    method: str
    mode: FaultMode = FaultMode.REFUSE
    status: int = 500
    until: float | None = None  # sandbox clock (unix seconds)
    calls: int | None = None  # calls left
    hits: int = 0

    def active(self, method: str, now: float) -> bool:
        if method.lower() != self.method.lower():
            return False
        if self.until is not None and now >= self.until:
            return False
        return self.calls is None or self.calls > 0

    def take(self) -> None:
        self.hits += 1
        if self.calls is not None:
            self.calls -= 1

    @property
    def processes(self) -> bool:
        return self.mode is not FaultMode.REFUSE


class FaultPlan:
    """The faults in force; the first active one for a method applies."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.faults: list[Fault] = []

    def add(self, method: str, mode: FaultMode | str = FaultMode.REFUSE, *, status: int = 500,
            seconds: float | None = None, calls: int | None = None) -> Fault:
        until = self.clock() + seconds if seconds is not None else None
        fault = Fault(method, FaultMode(mode), status, until, calls)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str) -> Fault | None:
        now = self.clock()
        for fault in self.faults:
            if fault.active(method, now):
                fault.take()
                return fault
        return None
