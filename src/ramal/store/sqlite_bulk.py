"""Bulk loads into SQLite beside a live server: one transaction per batch, WAL checkpoints in a thread.

Each batch is a ``BEGIN IMMEDIATE`` transaction in this process's turn among writers, so the single
write lock is released between batches and API writes go on. A commit appends the batch's pages to the
WAL; SQLite's automatic checkpoint would then copy them into the database file (read back, write, two
fsyncs) before the next batch could start: a quarter of a CDR import's store phase (bench/cdr_import.py).
Here that copy runs in a thread, on a connection of its own, while the next batch is inserted (SQLite
releases the GIL while it works).

A writer restarts the WAL from its beginning only if every frame had been copied when its transaction
began; a copy that always overlapped the next batch would never allow that, and the WAL would grow
with the whole load. So every :data:`RESTART_EVERY`-th batch first waits for the copy in flight: the
WAL stays within that many batches' pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import PoolProxiedConnection

from ramal.store.database import Database

RESTART_EVERY = 2  # 2, 4 and 8 measured alike (bench/cdr_import.py); 2 keeps the WAL smallest
_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"  # never waits for readers or writers


class SqliteBulkWriter:
    """Transactions for a bulk load, on a connection kept for the load and closed after it (its
    ``pragmas`` never reach the pool), with the WAL copied back by a thread (see the module docstring).
    """

    def __init__(self, database: Database, pragmas: Sequence[str] = ()) -> None:
        self._queue = database.writer_queue
        self._writer = _detached(database, (*pragmas, "wal_autocheckpoint=0"))
        self._checkpointer = _detached(database, ())
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ramal-checkpoint")
        self._checkpoint: Future[None] | None = None
        self._batches = 0

    def __enter__(self) -> SqliteBulkWriter:
        return self

    def __exit__(self, *_: object) -> None:
        """Leave the WAL copied back, as a batch on an ordinary connection would."""
        try:
            self._wait_for_checkpoint()
        finally:
            self._thread.shutdown()
            self._checkpointer.close()
            self._writer.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A ``BEGIN IMMEDIATE`` transaction (a sqlite3 cursor), committed when the block ends and
        rolled back if it raises; its checkpoint is started before the write lock is let go, so an API
        writer that commits next finds it running and does not do that copy itself."""
        if self._batches % RESTART_EVERY == 0:
            self._wait_for_checkpoint()
        driver: Any = self._writer.dbapi_connection
        with self._queue():
            cursor = driver.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                if driver.in_transaction:  # also when COMMIT failed
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
            self._wait_for_checkpoint()  # one copy at a time
            self._checkpoint = self._thread.submit(self._copy_back)
        self._batches += 1

    def _copy_back(self) -> None:
        driver: Any = self._checkpointer.dbapi_connection
        driver.execute(_CHECKPOINT)

    def _wait_for_checkpoint(self) -> None:
        if self._checkpoint is not None:
            checkpoint, self._checkpoint = self._checkpoint, None
            checkpoint.result()


def _detached(database: Database, pragmas: Sequence[str]) -> PoolProxiedConnection:
    """A connection of the engine's (its pragmas, ``check_same_thread`` off) taken out of the pool."""
    raw = database.engine.raw_connection()
    raw.detach()
    driver: Any = raw.dbapi_connection
    for pragma in pragmas:
        driver.execute(f"PRAGMA {pragma}")
    return raw
