"""Callback endpoints: the URLs customers register, their signing secrets and their health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, insert, select, update

from ramal.store.tables import callback_endpoints, deliveries, pins


@dataclass(frozen=True, slots=True)
class EndpointRow:
    code: str
    account_id: int
    pin_id: int | None
    pin: str | None
    kind: str  # voice | sms
    url: str  # may hold user:pass; never echo or log it as is
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    state: str  # active | paused | disabled | removed
    created_at: datetime
    removed_at: datetime | None
    failing_since: datetime | None
    state_reason: str | None


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    code: str
    account_id: int
    pin_id: int | None
    kind: str
    url: str
    secret: str
    created_at: datetime


_COLUMNS = (*callback_endpoints.c, pins.c.pin)


def _endpoint(row: Row[tuple[object, ...]]) -> EndpointRow:
    return EndpointRow(**row._asdict())


class CallbackRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, endpoint: NewEndpoint) -> None:
        self.connection.execute(
            insert(callback_endpoints).values(
                code=endpoint.code,
                account_id=endpoint.account_id,
                pin_id=endpoint.pin_id,
                kind=endpoint.kind,
                url=endpoint.url,
                secret=endpoint.secret,
                state="active",
                created_at=endpoint.created_at,
            )
        )

    def _select(self) -> Select[Any]:
        return select(*_COLUMNS).select_from(
            callback_endpoints.outerjoin(pins, pins.c.id == callback_endpoints.c.pin_id)
        )

    def get(self, code: str) -> EndpointRow | None:
        row = self.connection.execute(self._select().where(callback_endpoints.c.code == code)).first()
        return None if row is None else _endpoint(row)

    def of_account(self, account_id: int, kind: str | None = None) -> list[EndpointRow]:
        query = self._select().where(
            callback_endpoints.c.account_id == account_id, callback_endpoints.c.state != "removed"
        )
        if kind is not None:
            query = query.where(callback_endpoints.c.kind == kind)
        return [
            _endpoint(row) for row in self.connection.execute(query.order_by(callback_endpoints.c.created_at))
        ]

    def all_live(self) -> list[EndpointRow]:
        query = self._select().where(callback_endpoints.c.state != "removed")
        return [
            _endpoint(row) for row in self.connection.execute(query.order_by(callback_endpoints.c.created_at))
        ]

    def mark_removed(self, code: str, now: datetime) -> None:
        """Remove the endpoint; its pending deliveries become ``gone`` (logged, no longer queued)."""
        self.connection.execute(
            update(callback_endpoints)
            .where(callback_endpoints.c.code == code)
            .values(state="removed", removed_at=now)
        )
        self.connection.execute(
            update(deliveries)
            .where(deliveries.c.endpoint_code == code, deliveries.c.state == "pending")
            .values(state="gone", last_error="callback removido", lease_owner=None, lease_expires_at=None)
        )

    def set_secret(
        self, code: str, secret: str, previous: str | None, previous_until: datetime | None
    ) -> None:
        self.connection.execute(
            update(callback_endpoints)
            .where(callback_endpoints.c.code == code)
            .values(secret=secret, previous_secret=previous, previous_secret_expires_at=previous_until)
        )

    def set_state(self, code: str, state: str, reason: str | None) -> None:
        values: dict[str, object] = {"state": state, "state_reason": reason}
        if state == "active":
            values["failing_since"] = None
        self.connection.execute(
            update(callback_endpoints).where(callback_endpoints.c.code == code).values(**values)
        )

    def reschedule_backlog(self, code: str, now: datetime) -> int:
        """Make every pending delivery of an endpoint due now (after it is re-enabled)."""
        result = self.connection.execute(
            update(deliveries)
            .where(deliveries.c.endpoint_code == code, deliveries.c.state == "pending")
            .values(next_attempt_at=now, lease_owner=None, lease_expires_at=None)
        )
        return result.rowcount
