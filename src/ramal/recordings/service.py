"""Recordings of answered calls: synthesis, storage, lookup for download, retention purge.

A recording is made in two steps so that the blob is never referenced before it exists: :meth:`store`
writes the audio, then the caller adds :meth:`row` inside the transaction that completes the call;
if that transaction fails the caller :meth:`discard` s the blob. Links are
``<public_base_url>/extrato/gravacao/id/<40 hex>`` as in the contract (§6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.recordings import audio
from ramal.recordings.storage import BlobStorage
from ramal.store.database import Database
from ramal.store.repositories.calls import CallRepository
from ramal.store.repositories.recordings import RecordingRepository, RecordingRow

LINK_PATH = "/extrato/gravacao/id/"


@dataclass(frozen=True, slots=True)
class StoredAudio:
    recording_id: str
    storage_key: str
    size_bytes: int
    duration_seconds: int


@dataclass(frozen=True, slots=True)
class RecordingFile:
    path: Path
    content_type: str


class RecordingService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        ids: IdGenerator,
        storage: BlobStorage,
        *,
        retention_days: int,
        public_base_url: str,
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.storage = storage
        self.retention = timedelta(days=retention_days)
        self.public_base_url = public_base_url.rstrip("/")

    def link(self, recording_id: str) -> str:
        return f"{self.public_base_url}{LINK_PATH}{recording_id}"

    def store(self, seconds: int) -> StoredAudio:
        """Synthesize and write the audio of a ``seconds``-long conversation."""
        recording_id = self.ids.hex40()
        now = self.clock.now()
        key = f"recordings/{now:%Y/%m}/{recording_id}.{audio.EXTENSION}"
        data = audio.synthesize_wav(seconds)
        self.storage.put(key, data)
        return StoredAudio(recording_id, key, len(data), seconds)

    def row(self, stored: StoredAudio, call_id: str, account_id: int, now: datetime) -> RecordingRow:
        return RecordingRow(
            id=stored.recording_id,
            call_id=call_id,
            account_id=account_id,
            storage_key=stored.storage_key,
            content_type=audio.CONTENT_TYPE,
            size_bytes=stored.size_bytes,
            duration_seconds=stored.duration_seconds,
            created_at=now,
            expires_at=now + self.retention,
            purged_at=None,
        )

    def discard(self, stored: StoredAudio) -> None:
        self.storage.delete(stored.storage_key)

    def open(self, recording_id: str) -> RecordingFile | None:
        """The file to serve, or ``None`` if unknown, expired or purged."""
        with self.database.read() as connection:
            row = RecordingRepository(connection).live(recording_id, self.clock.now())
        if row is None or not self.storage.exists(row.storage_key):
            return None
        return RecordingFile(self.storage.path(row.storage_key), row.content_type)

    def purge_expired(self, limit: int = 500) -> int:
        """Delete the audio of recordings past their retention and mark their links expired."""
        with self.database.write() as connection:
            repo = RecordingRepository(connection)
            now = self.clock.now()
            doomed = repo.expired(now, limit)
            for row in doomed:
                self.storage.delete(row.storage_key)
            repo.mark_purged([row.id for row in doomed], now)
        return len(doomed)

    def purge_call_records(self, retention_days: int, limit: int = 500) -> int:
        """Delete finished calls placed more than ``retention_days`` ago, with their custom fields,
        recordings and audio (the statement forgets them); returns how many calls went."""
        with self.database.write() as connection:
            calls = CallRepository(connection)
            doomed = calls.finished_before(self.clock.now() - timedelta(days=retention_days), limit)
            if not doomed:
                return 0
            recordings = RecordingRepository(connection)
            attached = recordings.of_calls(doomed)
            for row in attached:
                self.storage.delete(row.storage_key)
            recordings.delete([row.id for row in attached])
            calls.delete(doomed)
        return len(doomed)
