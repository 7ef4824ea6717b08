"""The periodic retention purge, so operators need no cron (JOURNEYS.md §2): expired recordings'
audio, call records past ``RAMAL_CALL_RETENTION_DAYS`` when that is set, and callback events past
``RAMAL_EVENT_RETENTION_DAYS`` that nothing is owed for (the events table would otherwise grow forever)."""

from __future__ import annotations

import asyncio

from ramal.delivery.log import DeliveryLog
from ramal.loops import Loop
from ramal.recordings.service import RecordingService


class RetentionPurge(Loop):
    name = "retention-purge"

    def __init__(
        self,
        recordings: RecordingService,
        *,
        delivery_log: DeliveryLog | None = None,
        event_retention_days: int = 0,
        call_retention_days: int = 0,
        idle_seconds: float = 300.0,
        batch: int = 500,
    ) -> None:
        super().__init__(idle_seconds)
        self.recordings = recordings
        self.call_retention_days = call_retention_days
        self.delivery_log = delivery_log
        self.event_retention_days = event_retention_days
        self.batch = batch

    async def run_once(self) -> int:
        purged = await asyncio.to_thread(self.purge_batch)
        return sum(purged) if max(purged) >= self.batch else 0  # keep going only while batches are full

    def purge_batch(self) -> tuple[int, int, int]:
        """One batch of each kind: (recordings purged, call records deleted, events deleted)."""
        recordings = self.recordings.purge_expired(self.batch)
        calls = events = 0
        if self.call_retention_days > 0:
            calls = self.recordings.purge_call_records(self.call_retention_days, self.batch)
        if self.delivery_log is not None and self.event_retention_days > 0:
            events = self.delivery_log.purge(self.event_retention_days, self.batch)
        return recordings, calls, events
