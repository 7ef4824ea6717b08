"""The dispatcher's local queue: which claimed deliveries may start now, and how many more to claim.

A process holds a delivery from its claim until its attempt ends. Per endpoint it may hold
``ahead`` times ``endpoint_cap`` deliveries, in flight or claimed and waiting, of which
``endpoint_cap`` in flight; in all, likewise, ``ahead`` times ``concurrency``. (``ahead`` is at least
1 + the database steps in flight; ``dispatcher_for`` sets it per database.) The waiting claims are
what keeps the HTTP slots busy while the database step runs: when an attempt ends, the endpoint's
next claim starts at once instead of after the next claim. A hanging endpoint still holds only its
cap of connections (its waiting claims hold none), and a claim that waited past ``start_by`` is
handed back, never sent, so an attempt never outlives its lease because it queued. A claim in
progress (a step in flight) holds the budget it was given until its claims join the queue
(:meth:`Slots.reserve`), so two steps in flight never claim, between them, more than the limits
allow.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ramal.store.repositories.deliveries import ClaimedDelivery


class Ready(NamedTuple):  # one per delivery: a NamedTuple, as the step's records (deliveries.py)
    """A claimed delivery with its rendered body, to be started by ``start_by`` or given back."""

    claim: ClaimedDelivery
    body: bytes
    start_by: datetime


@dataclass(frozen=True, slots=True)
class Budget:
    """How much the next claim may take: in all, and per endpoint (``room``, else ``default_room``)."""

    free: int
    room: dict[str, int]
    default_room: int


class Slots:
    def __init__(self, concurrency: int, endpoint_cap: int, ahead: int = 2) -> None:
        self.concurrency = concurrency
        self.endpoint_cap = endpoint_cap
        self.ahead = ahead  # held = in flight + waiting, up to ``ahead`` x the in-flight limits
        self._waiting: dict[str, deque[Ready]] = {}
        self._busy: Counter[str] = Counter()
        self._in_flight = 0
        self._queued = 0
        self._reserved: list[Budget] = []  # the budgets of claims in progress

    def budget(self) -> Budget:
        """What may be claimed without exceeding the holding limits (see the module docstring), less
        what the claims in progress may still bring: each may fill its whole budget."""
        cap = self.ahead * self.endpoint_cap
        default_room = cap - sum(reserved.default_room for reserved in self._reserved)
        room = {
            code: max(
                cap
                - self._busy[code]
                - len(self._waiting.get(code, ()))
                - sum(reserved.room.get(code, reserved.default_room) for reserved in self._reserved),
                0,
            )
            for code in self._codes()
        }
        free = self.ahead * self.concurrency - self._in_flight - self._queued
        free -= sum(reserved.free for reserved in self._reserved)
        return Budget(max(free, 0), room, max(default_room, 0))

    def reserve(self) -> Budget:
        """The budget for a claim about to be made, held until :meth:`release` (its claims queued)."""
        budget = self.budget()
        self._reserved.append(budget)
        return budget

    def release(self, budget: Budget) -> None:
        self._reserved.remove(budget)

    def add(self, ready: Ready) -> None:
        self._waiting.setdefault(ready.claim.endpoint_code, deque()).append(ready)
        self._queued += 1

    def take(self, now: datetime, limit: int | None = None) -> tuple[list[Ready], list[int]]:
        """Claims to start now (at most ``limit``; counted in flight from here), and ids of stale ones
        to give back."""
        start: list[Ready] = []
        stale: list[int] = []
        in_flight_cap = self.concurrency if limit is None else min(self.concurrency, self._in_flight + limit)
        for code, waiting in list(self._waiting.items()):
            while waiting and self._in_flight < in_flight_cap and self._busy[code] < self.endpoint_cap:
                ready = waiting.popleft()
                self._queued -= 1
                if ready.start_by < now:
                    stale.append(ready.claim.id)
                    continue
                self._busy[code] += 1
                self._in_flight += 1
                start.append(ready)
            if not waiting:
                del self._waiting[code]
        return start, stale

    @property
    def waiting(self) -> int:
        return self._queued

    def finished(self, endpoint_code: str) -> bool:
        """An attempt ended; True if nothing of its endpoint waits to take the freed slot."""
        self._busy[endpoint_code] -= 1
        if not self._busy[endpoint_code]:
            del self._busy[endpoint_code]
        self._in_flight -= 1
        return endpoint_code not in self._waiting

    def drop(self, endpoint_code: str | None = None) -> list[int]:
        """Forget the waiting claims of one endpoint (or all); returns their ids to give back."""
        codes = list(self._waiting) if endpoint_code is None else [endpoint_code]
        ids = [ready.claim.id for code in codes for ready in self._waiting.pop(code, ())]
        self._queued -= len(ids)
        return ids

    def _codes(self) -> set[str]:
        reserved = {code for budget in self._reserved for code in budget.room}
        return set(self._busy) | set(self._waiting) | reserved
