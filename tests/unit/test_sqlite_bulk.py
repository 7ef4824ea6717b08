"""Bulk loads into SQLite: a transaction per batch, the WAL copied back by a thread and kept short."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramal.store import sqlite_bulk
from ramal.store.database import Database
from ramal.store.sqlite_bulk import SqliteBulkWriter

BATCHES = 12
ROWS = 40  # of ~3 KB: a page and a bit each


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'bulk.db'}")
    with database.write() as connection:
        connection.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    yield database
    database.dispose()


@pytest.fixture
def slow_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies still under way when the next batch begins, done before it commits, as in an import."""
    copy_back = SqliteBulkWriter._copy_back

    def slowly(self: SqliteBulkWriter) -> None:
        time.sleep(0.01)
        copy_back(self)

    monkeypatch.setattr(SqliteBulkWriter, "_copy_back", slowly)


def load(database: Database) -> list[int]:
    """Insert the batches; the WAL's size after each."""
    wal = Path(f"{database.engine.url.database}-wal")
    sizes = []
    with SqliteBulkWriter(database) as writer:
        for batch in range(BATCHES):
            with writer.transaction() as cursor:
                cursor.executemany(
                    "INSERT INTO blobs (id, data) VALUES (?, ?)",
                    [(batch * ROWS + row, bytes(3000)) for row in range(ROWS)],
                )
                time.sleep(0.03)  # a batch outlasts a copy
            sizes.append(wal.stat().st_size)
    return sizes


@pytest.mark.usefixtures("slow_checkpoints")
def test_the_wal_restarts_every_few_batches_instead_of_growing_with_the_load(database: Database) -> None:
    sizes = load(database)
    assert max(sizes) <= (sqlite_bulk.RESTART_EVERY + 1) * sizes[0] < sizes[0] * BATCHES / 2


@pytest.mark.usefixtures("slow_checkpoints")
def test_every_batch_is_in_the_database_file_when_the_load_ends(database: Database, tmp_path: Path) -> None:
    server = sqlite3.connect(tmp_path / "bulk.db")  # open throughout: closing the last connection would copy
    server.execute("SELECT count(*) FROM blobs").fetchone()
    load(database)
    shutil.copyfile(tmp_path / "bulk.db", tmp_path / "file-only.db")  # without its WAL
    server.close()
    with sqlite3.connect(tmp_path / "file-only.db") as copy:
        assert copy.execute("SELECT count(*) FROM blobs").fetchone() == (BATCHES * ROWS,)


def test_a_failing_batch_is_rolled_back_and_the_next_one_goes_in(database: Database) -> None:
    twice = [(1, b""), (1, b"")]
    with SqliteBulkWriter(database) as writer:
        with pytest.raises(sqlite3.IntegrityError), writer.transaction() as cursor:
            cursor.executemany("INSERT INTO blobs VALUES (?, ?)", twice)
        with writer.transaction() as cursor:
            cursor.execute("INSERT INTO blobs VALUES (2, x'00')")
    with database.read() as connection:
        assert connection.exec_driver_sql("SELECT id FROM blobs").scalars().all() == [2]


def test_the_load_settings_stay_on_its_own_connections(database: Database) -> None:
    with SqliteBulkWriter(database, ("foreign_keys=OFF",)) as writer, writer.transaction() as cursor:
        assert cursor.execute("PRAGMA foreign_keys").fetchone() == (0,)
        assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    pooled = [database.engine.raw_connection() for _ in range(3)]
    try:
        settings = [raw.cursor().execute("PRAGMA foreign_keys").fetchone()[0] for raw in pooled]
        checkpoints = [raw.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] for raw in pooled]
    finally:
        for raw in pooled:
            raw.close()
    assert (settings, checkpoints) == ([1] * 3, [1000] * 3)
