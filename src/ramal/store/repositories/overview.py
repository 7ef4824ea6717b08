"""Counts across every account for the operator's overview (``ramal status``).

Each query stays on an index so the overview answers in milliseconds at millions of calls: traffic
is counted per account over ``(account_id, started_at, ...)`` (covering for calls), live calls over
the partial "next step" index, the delivery queue over ``(state, next_attempt_at)``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, Table, and_, func, select

from ramal.store.tables import (
    accounts,
    calls,
    deliveries,
    messages,
    outbox,
    pins,
    recordings,
)


class OverviewRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def tenants(self) -> tuple[int, int]:
        """Accounts and pins."""
        return self._count(select(func.count()).select_from(accounts)), self._count(
            select(func.count()).select_from(pins)
        )

    def calls_by_status(self, since: datetime) -> dict[str, int]:
        return self._by_status(calls, since)

    def messages_by_status(self, since: datetime) -> dict[str, int]:
        return self._by_status(messages, since)

    def _by_status(self, table: Table, since: datetime) -> dict[str, int]:
        # ``account_id IN (every account)`` turns the time index, which leads with the account, into one
        # range per account; without it the whole index is scanned for a started_at that no index leads
        # with (185 ms -> 33 ms at 1M calls on SQLite).
        query = (
            select(table.c.status, func.count())
            .where(table.c.account_id.in_(select(accounts.c.id)), table.c.started_at >= since)
            .group_by(table.c.status)
        )
        return {str(status): int(count) for status, count in self.connection.execute(query)}

    def live_calls(self) -> int:
        """Calls with a sandbox step still to come (queued, ringing or talking)."""
        return self._count(select(func.count()).select_from(calls).where(calls.c.next_step_at.is_not(None)))

    def recordings(self, now: datetime, soon: datetime) -> tuple[int, int, int]:
        """Recordings kept, their bytes, and how many expire before ``soon``."""
        kept = recordings.c.purged_at.is_(None)
        expiring = func.count().filter(and_(recordings.c.expires_at > now, recordings.c.expires_at <= soon))
        row = self.connection.execute(
            select(func.count(), func.coalesce(func.sum(recordings.c.size_bytes), 0), expiring).where(kept)
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    def outbox_backlog(self) -> int:
        """Events not yet fanned out to their endpoints' deliveries."""
        return self._count(select(func.count()).select_from(outbox))

    def pending_deliveries(self) -> tuple[int, datetime | None]:
        """Deliveries waiting for an attempt and the creation time of the oldest."""
        query = select(func.count(), func.min(deliveries.c.created_at)).where(deliveries.c.state == "pending")
        count, oldest = self.connection.execute(query).one()
        return int(count), oldest

    def ended_deliveries(self, since: datetime) -> dict[str, int]:
        """Deliveries created since ``since`` that were given up on: ``failed`` and ``gone`` (410)."""
        query = (
            select(deliveries.c.state, func.count())
            .where(deliveries.c.state.in_(("failed", "gone")), deliveries.c.created_at >= since)
            .group_by(deliveries.c.state)
        )
        return {str(state): int(count) for state, count in self.connection.execute(query)}

    def pending_per_endpoint(self) -> dict[str, int]:
        query = (
            select(deliveries.c.endpoint_code, func.count())
            .where(deliveries.c.state == "pending")
            .group_by(deliveries.c.endpoint_code)
        )
        return {str(code): int(count) for code, count in self.connection.execute(query)}

    def _count(self, query: Select[int]) -> int:
        return int(self.connection.execute(query).scalar_one())
