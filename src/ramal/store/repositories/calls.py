"""Calls, their custom-field rows and their recordings' rows.

Rows come back as :class:`CallRow`, joined with the pin and the account's time zone because every
event payload needs both. State changes are *conditional* on the ``event_sequence`` the caller read
(optimistic concurrency), so the simulator, ``/voz/end`` and a second worker can race on one call and
still produce exactly one transition each and one terminal event in total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, insert, select, update

from ramal.store.tables import accounts, call_fields, calls, pins

ACTIVE_STATUSES = ("queued", "ringing", "answered")


@dataclass(frozen=True, slots=True)
class CallRow:
    id: str
    account_id: int
    pin_id: int
    pin: str
    timezone: str
    direction: str
    origin: str
    destination: str
    status: str
    record: bool
    invert_dial: bool
    source: str
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int
    billable_seconds: int
    end_reason: str | None
    outcome: str | None
    recording_id: str | None
    campos: dict[str, str] | None
    next_step_at: datetime | None
    event_sequence: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose calls a query may see: one account, and within it one pin unless ``pin_id`` is None."""

    account_id: int
    pin_id: int | None


_OWNER_COLUMNS = {"pin": pins.c.pin, "timezone": accounts.c.timezone}
_SELECTED = [_OWNER_COLUMNS[name] if name in _OWNER_COLUMNS else calls.c[name] for name in CallRow.__slots__]


def _call_select() -> Select[Any]:
    """Columns in :class:`CallRow` field order, so a row converts positionally (the simulator reads
    thousands a second)."""
    return (
        select(*_SELECTED)
        .join(pins, pins.c.id == calls.c.pin_id)
        .join(accounts, accounts.c.id == calls.c.account_id)
    )


def _row(row: Any) -> CallRow:
    return CallRow(*row)


class CallRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def insert_many(self, rows: Sequence[Mapping[str, Any]], fields: Sequence[Mapping[str, Any]]) -> None:
        """New calls and their ``call_fields`` rows, each kind in one ``executemany``."""
        self.connection.execute(insert(calls), list(rows))
        if fields:
            self.connection.execute(insert(call_fields), list(fields))

    def get(self, call_id: str, scope: Scope | None = None) -> CallRow | None:
        query = _call_select().where(calls.c.id == call_id)
        if scope is not None:
            query = _scoped(query, scope)
        row = self.connection.execute(query).first()
        return None if row is None else _row(row)

    def latest_between(
        self, scope: Scope, origin: str, destination: str, *, active_only: bool, call_id: str | None = None
    ) -> CallRow | None:
        """The most recent call from ``origin`` to ``destination`` that ``scope`` may see."""
        query = _scoped(_call_select(), scope).where(
            calls.c.origin == origin, calls.c.destination == destination
        )
        if active_only:
            query = query.where(calls.c.status.in_(ACTIVE_STATUSES))
        if call_id is not None:
            query = query.where(calls.c.id == call_id)
        row = self.connection.execute(query.order_by(calls.c.started_at.desc(), calls.c.id.desc())).first()
        return None if row is None else _row(row)

    def due(self, now: datetime, limit: int, *, skip_locked: bool) -> list[CallRow]:
        """Calls whose next timeline step is due, oldest first; locked against other workers on PG."""
        query = _call_select().where(calls.c.next_step_at <= now).order_by(calls.c.next_step_at).limit(limit)
        if skip_locked:
            query = query.with_for_update(skip_locked=True, of=calls)
        return [_row(r) for r in self.connection.execute(query)]

    def transition_many(self, changes: Sequence[tuple[str, int, Mapping[str, Any]]]) -> int:
        """:meth:`transition` for a batch, one ``executemany`` per shape of change (the simulator's
        hot path: statement building dominated when done call by call). Returns rows changed."""
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for call_id, expected_sequence, values in changes:
            params = {"_id": call_id, "_sequence": expected_sequence, **values}
            by_shape.setdefault(tuple(sorted(values)), []).append(params)
        changed = 0
        for shape, batch in by_shape.items():
            statement = (
                update(calls)
                .where(calls.c.id == bindparam("_id"), calls.c.event_sequence == bindparam("_sequence"))
                .values({name: bindparam(name) for name in shape})
            )
            changed += self.connection.execute(statement, batch).rowcount
        return changed

    def transition(self, call_id: str, expected_sequence: int, values: Mapping[str, Any]) -> bool:
        """Apply ``values`` if nobody changed the call since ``expected_sequence`` was read."""
        result = self.connection.execute(
            update(calls)
            .where(calls.c.id == call_id, calls.c.event_sequence == expected_sequence)
            .values(**values)
        )
        return bool(result.rowcount == 1)

    def finished_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Ids of finished calls placed before ``cutoff``, walked account by account so each lookup
        uses the ``(account_id, started_at)`` index instead of scanning the table."""
        found: list[str] = []
        for account_id in self.connection.execute(select(accounts.c.id).order_by(accounts.c.id)).scalars():
            query = (
                select(calls.c.id)
                .where(
                    calls.c.account_id == account_id,
                    calls.c.started_at < cutoff,
                    calls.c.status.not_in(ACTIVE_STATUSES),
                )
                .limit(limit - len(found))
            )
            found.extend(self.connection.execute(query).scalars())
            if len(found) >= limit:
                break
        return found

    def delete(self, call_ids: list[str]) -> None:
        """Calls and their custom-field rows (their recordings' rows must be gone first)."""
        if call_ids:
            self.connection.execute(delete(call_fields).where(call_fields.c.call_id.in_(call_ids)))
            self.connection.execute(delete(calls).where(calls.c.id.in_(call_ids)))


def _scoped(query: Select[Any], scope: Scope) -> Select[Any]:
    query = query.where(calls.c.account_id == scope.account_id)
    if scope.pin_id is not None:
        query = query.where(calls.c.pin_id == scope.pin_id)
    return query
