"""SMS and voice messages, their custom-field rows and uploaded audios."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, select, update

from ramal.store.tables import accounts, audios, message_fields, messages, pins


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One recipient of one send (or one received SMS), with its pin and account zone joined in."""

    id: str
    callerid: str
    account_id: int
    pin_id: int
    kind: str
    direction: str
    origin: str
    destination: str
    text: str | None
    audio_id: str | None
    segments: int
    status: str
    attempts: int
    max_attempts: int
    created_at: datetime
    scheduled_at: datetime | None
    started_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    end_reason: str | None
    campos: dict[str, str] | None
    next_step_at: datetime | None
    event_sequence: int
    pin: str
    timezone: str

    def columns(self) -> dict[str, Any]:
        """The values of the ``messages`` columns (without the joined pin and zone)."""
        # Not dataclasses.asdict: it deep-copies campos and costs a third of a send (bench/sms_send.py).
        return {column.name: getattr(self, column.name) for column in messages.c}


@dataclass(frozen=True, slots=True)
class AudioRow:
    id: str
    account_id: int
    storage_key: str
    size_bytes: int
    created_at: datetime


_COLUMNS = [*messages.c, pins.c.pin, accounts.c.timezone]
_MUTABLE = ("status", "attempts", "sent_at", "delivered_at", "end_reason", "next_step_at", "event_sequence")


def _select() -> Select[Any]:
    return select(*_COLUMNS).select_from(
        messages.join(pins, pins.c.id == messages.c.pin_id).join(
            accounts, accounts.c.id == messages.c.account_id
        )
    )


def _row(row: Row[Any]) -> MessageRow:
    return MessageRow(**row._asdict())


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- writes ------------------------------------------------------------------------------

    def add(self, rows: Sequence[MessageRow]) -> None:
        """Insert messages and their custom-field rows (one executemany each)."""
        self.connection.execute(insert(messages), [row.columns() for row in rows])
        fields = [
            {
                "message_id": row.id,
                "key": key,
                "value": value,
                "account_id": row.account_id,
                "pin_id": row.pin_id,
                "started_at": row.started_at,
            }
            for row in rows
            for key, value in (row.campos or {}).items()
        ]
        if fields:
            self.connection.execute(insert(message_fields), fields)

    def save_states(self, rows: Sequence[MessageRow]) -> None:
        """Write the mutable part of messages (status, times, attempts, timeline, sequence) in one
        ``executemany``: the simulator moves hundreds per batch."""
        if not rows:
            return
        statement = (
            update(messages)
            .where(messages.c.id == bindparam("message_id"))
            .values({name: bindparam(name) for name in _MUTABLE})
        )
        self.connection.execute(
            statement,
            [{"message_id": row.id, **{name: getattr(row, name) for name in _MUTABLE}} for row in rows],
        )

    def add_audio(self, audio: AudioRow) -> None:
        self.connection.execute(insert(audios).values(**asdict(audio)))

    # --- reads -------------------------------------------------------------------------------

    def callerid_taken(self, callerid: str) -> bool:
        query = select(messages.c.id).where(messages.c.callerid == callerid).limit(1)
        return self.connection.execute(query).first() is not None

    def by_callerid(self, callerid: str, account_id: int, pin_id: int | None) -> list[MessageRow]:
        """The recipients of one send, if visible to the caller (``pin_id`` None: the whole account)."""
        query = _select().where(messages.c.callerid == callerid, messages.c.account_id == account_id)
        if pin_id is not None:
            query = query.where(messages.c.pin_id == pin_id)
        return [_row(r) for r in self.connection.execute(query.order_by(messages.c.id))]

    def due(self, now: datetime, limit: int) -> list[MessageRow]:
        """Messages whose next timeline step is due, oldest first; locked (PostgreSQL skips rows
        another worker holds, so several workers share the work without doing it twice)."""
        query = (
            _select()
            .where(messages.c.next_step_at <= now)
            .order_by(messages.c.next_step_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=messages)
        )
        return [_row(r) for r in self.connection.execute(query)]

    def get_audio(self, audio_id: str, account_id: int) -> AudioRow | None:
        query = select(audios).where(audios.c.id == audio_id, audios.c.account_id == account_id)
        row = self.connection.execute(query).first()
        return None if row is None else AudioRow(**row._asdict())

    def received(
        self, account_id: int, pin_id: int | None, start: datetime, end: datetime, offset: int, limit: int
    ) -> tuple[list[MessageRow], int]:
        """One page of received SMS in ``[start, end]``, oldest first, and the total count."""
        conditions = [
            messages.c.account_id == account_id,
            messages.c.direction == "inbound",
            messages.c.started_at >= start,
            messages.c.started_at <= end,
        ]
        if pin_id is not None:
            conditions.append(messages.c.pin_id == pin_id)
        total = self.connection.execute(select(func.count()).select_from(messages).where(*conditions))
        page = _select().where(*conditions).order_by(messages.c.started_at, messages.c.id)
        rows = self.connection.execute(page.offset(offset).limit(limit))
        return [_row(r) for r in rows], int(total.scalar_one())
