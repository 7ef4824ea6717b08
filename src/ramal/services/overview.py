"""The operator's overview: traffic, recordings and callback health at a glance (``ramal status``).

The counts come from one read transaction, so they describe the same moment. Across all accounts:
this is the operator's view, never served to an API client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ramal.clock import Clock
from ramal.services.callbacks import CallbackRegistry, Endpoint
from ramal.store.database import Database
from ramal.store.repositories.overview import OverviewRepository

EXPIRING_WITHIN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    endpoint: Endpoint
    pending: int


@dataclass(frozen=True, slots=True)
class Overview:
    at: datetime
    since: datetime
    accounts: int
    pins: int
    calls: dict[str, int]  # by status, started since ``since``
    live_calls: int
    messages: dict[str, int]  # by status, started since ``since``
    recordings_kept: int
    recordings_bytes: int
    recordings_expiring: int  # within EXPIRING_WITHIN
    outbox_backlog: int  # events not yet fanned out
    deliveries_pending: int
    oldest_pending_at: datetime | None
    deliveries_given_up: dict[str, int]  # failed / gone, created since ``since``
    endpoints: list[EndpointHealth]

    @property
    def oldest_pending_age(self) -> timedelta | None:
        return None if self.oldest_pending_at is None else self.at - self.oldest_pending_at


class OverviewService:
    def __init__(self, database: Database, clock: Clock, callbacks: CallbackRegistry) -> None:
        self.database = database
        self.clock = clock
        self.callbacks = callbacks

    def snapshot(self, since: datetime) -> Overview:
        now = self.clock.now()
        endpoints = self.callbacks.all_endpoints()
        with self.database.read() as connection:
            repo = OverviewRepository(connection)
            accounts, pins = repo.tenants()
            kept, size, expiring = repo.recordings(now, now + EXPIRING_WITHIN)
            pending, oldest = repo.pending_deliveries()
            per_endpoint = repo.pending_per_endpoint()
            return Overview(
                at=now,
                since=since,
                accounts=accounts,
                pins=pins,
                calls=repo.calls_by_status(since),
                live_calls=repo.live_calls(),
                messages=repo.messages_by_status(since),
                recordings_kept=kept,
                recordings_bytes=size,
                recordings_expiring=expiring,
                outbox_backlog=repo.outbox_backlog(),
                deliveries_pending=pending,
                oldest_pending_at=oldest,
                deliveries_given_up=repo.ended_deliveries(since),
                endpoints=[EndpointHealth(e, per_endpoint.get(e.code, 0)) for e in endpoints],
            )
