"""The sandbox's engine: a loop that moves due calls along their scripted timelines."""

from __future__ import annotations

import asyncio

from ramal.loops import Loop
from ramal.services.calls import CallService


class CallSimulator(Loop):
    """Each :meth:`run_once` first closes stale calls (watchdog), then advances one batch of due calls,
    reading time from the service's injected clock, so tests drive it with a ManualClock."""

    name = "call-simulator"

    def __init__(self, calls: CallService, idle_seconds: float, batch: int = 200) -> None:
        super().__init__(idle_seconds)
        self.calls = calls
        self.batch = batch

    async def run_once(self) -> int:
        return await asyncio.to_thread(self._step)

    def _step(self) -> int:
        if not self.calls.has_due():  # the idle tick: a read, not two write transactions
            return 0
        return self.calls.close_stale(self.batch) + self.calls.advance_due(self.batch)
