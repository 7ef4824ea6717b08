"""The transactional outbox: events are appended in the same transaction as the change they report.

Writers (traffic services) call :meth:`EventRepository.append` on the connection of their own write
transaction, so a committed state change always has its event and a rolled-back one never does. Each
event is written twice: the event itself, kept for delivery and replay, and its place in the
``outbox`` queue, which the delivery engine deletes as it turns the event into per-endpoint
deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from ramal.store.tables import events, outbox


@dataclass(frozen=True, slots=True)
class NewEvent:
    id: str  # UUIDv7 from IdGenerator.call_id(): time-ordered, doubles as the webhook-id
    account_id: int
    pin_id: int
    subject_type: str  # "call" | "message"
    subject_id: str
    event_type: str  # an ramal.services.events.EventType value
    sequence: int  # 1, 2, 3... per subject: receivers order and dedupe by it
    payload: dict[str, Any]  # English-keyed snapshot; see ramal.services.events
    created_at: datetime


class EventRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def append(self, event: NewEvent) -> None:
        self.append_many([event])

    def append_many(self, batch: list[NewEvent]) -> None:
        """Several events, each table in one ``executemany`` (group-committed traffic)."""
        if batch:
            self.connection.execute(insert(events), [_event_row(event) for event in batch])
            self.connection.execute(insert(outbox), [_outbox_row(event) for event in batch])


_EVENT_COLUMNS = tuple(field.name for field in fields(NewEvent))  # the events table's, one for one
_QUEUED_COLUMNS = ("account_id", "pin_id", "subject_type", "subject_id", "sequence")  # and the outbox's


def _event_row(event: NewEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _EVENT_COLUMNS}


def _outbox_row(event: NewEvent) -> dict[str, Any]:
    return {"event_id": event.id, **{name: getattr(event, name) for name in _QUEUED_COLUMNS}}
