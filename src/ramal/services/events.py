"""The vocabulary of outbox events: types and the English-keyed payload every event carries.

Payloads are snapshots of the record *after* the change, so a receiver never needs a second query.
The delivery engine renders them into the Directcall wire form (``data=<JSON>``, Portuguese names) at
the edge; nothing here knows that form.

Call payload keys: ``call_id, pin, direction, origin, destination, status, created_at, started_at,
answered_at, ended_at, duration_seconds, billable_seconds, end_reason, recording_id, campos, final,
timezone``. Message payload keys: ``message_id, callerid, pin, kind, direction, origin, destination,
status, segments, created_at, sent_at, delivered_at, end_reason, campos, final, timezone``. Times are
ISO-8601 UTC strings (``None`` when not reached); ``timezone`` is the account's zone, for rendering local
times.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class EventType(StrEnum):
    CALL_QUEUED = "call.queued"
    CALL_RINGING = "call.ringing"
    CALL_ANSWERED = "call.answered"
    CALL_COMPLETED = "call.completed"
    CALL_BUSY = "call.busy"
    CALL_NO_ANSWER = "call.no_answer"
    CALL_FAILED = "call.failed"
    CALL_CANCELED = "call.canceled"
    CALL_INCOMING = "call.incoming"  # an inbound call reached one of the account's numbers
    MESSAGE_QUEUED = "message.queued"
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_CANCELED = "message.canceled"
    MESSAGE_RECEIVED = "message.received"  # an inbound SMS


TERMINAL_EVENT_TYPES = frozenset(
    {
        EventType.CALL_COMPLETED,
        EventType.CALL_BUSY,
        EventType.CALL_NO_ANSWER,
        EventType.CALL_FAILED,
        EventType.CALL_CANCELED,
        EventType.MESSAGE_DELIVERED,
        EventType.MESSAGE_FAILED,
        EventType.MESSAGE_CANCELED,
        EventType.MESSAGE_RECEIVED,
    }
)


def iso(instant: datetime | None) -> str | None:
    """Payload time format: ISO-8601 in UTC, or ``None``."""
    return None if instant is None else instant.isoformat()
