"""Group commit: many concurrent requests, one transaction.

On PostgreSQL a transaction costs a round trip and an fsync whatever it holds (limits.md §2: ~1.5k
single-row commits/s, ~23k rows/s batched), so ``/voz/call`` would top out far below its target if every
request committed alone. Requests instead park their rows here and await; one drain task writes
whatever has accumulated in a single transaction (on a worker thread), then wakes every request of
that batch. Nobody waits for a timer: a lone request is written at once, and batches grow only while a
write is already in flight. A request is answered only after its rows are committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """``max_in_flight`` batches may be written at once (on PostgreSQL a batch mostly waits on the
    server, so a few in parallel multiply throughput; SQLite serializes writers anyway: use 1)."""

    def __init__(
        self, write_batch: Callable[[list[T]], None], *, max_batch: int = 500, max_in_flight: int = 1
    ) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> None:
        """Return once ``item`` is committed; raise what writing it raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._start_writers()
        await future

    def _start_writers(self) -> None:
        while self._pending and len(self._writers) < self._max_in_flight:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            writer = asyncio.get_running_loop().create_task(self._write(batch))
            self._writers.add(writer)
            writer.add_done_callback(self._writer_done)

    def _writer_done(self, writer: asyncio.Task[None]) -> None:
        self._writers.discard(writer)
        self._start_writers()  # whatever arrived meanwhile is the next batch

    async def _write(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await asyncio.to_thread(self._write_batch, [item for item, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
        else:
            for _, future in batch:
                _settle(future)
            return
        for entry in batch:  # one bad row must not fail its neighbours: write each alone to find it
            await self._write([entry])


def _settle(future: asyncio.Future[None], error: BaseException | None = None) -> None:
    if future.done():  # the request went away (client disconnected); its row is committed anyway
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
