"""Rows of the ``recordings`` table: one per recorded call, with its blob key and expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from ramal.store.tables import recordings


@dataclass(frozen=True, slots=True)
class RecordingRow:
    id: str
    call_id: str
    account_id: int
    storage_key: str
    content_type: str
    size_bytes: int
    duration_seconds: int
    created_at: datetime
    expires_at: datetime
    purged_at: datetime | None


def _row(row: object) -> RecordingRow:
    return RecordingRow(**{name: getattr(row, name) for name in RecordingRow.__slots__})


class RecordingRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, row: RecordingRow) -> None:
        self.connection.execute(
            insert(recordings).values(**{name: getattr(row, name) for name in RecordingRow.__slots__})
        )

    def live(self, recording_id: str, now: datetime) -> RecordingRow | None:
        """The recording if it exists, is not purged and has not expired."""
        query = select(recordings).where(
            recordings.c.id == recording_id, recordings.c.purged_at.is_(None), recordings.c.expires_at > now
        )
        row = self.connection.execute(query).first()
        return None if row is None else _row(row)

    def expired(self, now: datetime, limit: int) -> list[RecordingRow]:
        query = (
            select(recordings)
            .where(recordings.c.expires_at <= now, recordings.c.purged_at.is_(None))
            .order_by(recordings.c.expires_at)
            .limit(limit)
        )
        return [_row(r) for r in self.connection.execute(query)]

    def mark_purged(self, recording_ids: list[str], now: datetime) -> None:
        if recording_ids:
            self.connection.execute(
                update(recordings).where(recordings.c.id.in_(recording_ids)).values(purged_at=now)
            )

    def of_calls(self, call_ids: list[str]) -> list[RecordingRow]:
        query = select(recordings).where(recordings.c.call_id.in_(call_ids))
        return [_row(r) for r in self.connection.execute(query)]

    def delete(self, recording_ids: list[str]) -> None:
        if recording_ids:
            self.connection.execute(delete(recordings).where(recordings.c.id.in_(recording_ids)))
