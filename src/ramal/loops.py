"""Background loops (token janitor, simulator, dispatcher, purge) share one shape.

Each is a class with ``run_once()`` (do one batch, return how much was done; what tests drive) and
``run_forever()`` (repeat, sleeping ``idle_seconds`` when a batch found nothing, until stopped). They run
embedded in ``ramal serve`` or alone in ``ramal worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

logger = logging.getLogger("ramal.loops")


class Loop(ABC):
    name: str = "loop"

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds

    @abstractmethod
    async def run_once(self) -> int:
        """Do one batch of work; return the number of items handled (0 = nothing was due)."""

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                # A loop must outlive a bad batch (database restart, bad row); it retries next tick.
                logger.exception("loop %s failed; retrying", self.name)
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.idle_seconds)


async def run_loops(loops: list[Loop], stop: asyncio.Event) -> None:
    """Run every loop until ``stop`` is set."""
    async with asyncio.TaskGroup() as group:
        for loop in loops:
            group.create_task(loop.run_forever(stop), name=f"ramal-{loop.name}")
