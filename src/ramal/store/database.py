"""Engine set-up and transactions; the one place that knows SQLite from PostgreSQL.

Two kinds of transaction: :meth:`Database.read` and :meth:`Database.write`. On SQLite a write
transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue on the lock (``busy_timeout``)
instead of failing half-way with "database is locked" when a reader upgrades; reads stay deferred and,
with WAL, never block writers.

SQLite's own busy handler waits by sleeping in growing steps (1, 2, 5 ... 100 ms), so under contention
writers idle while the lock is free. Writers therefore first queue on an ``flock`` of a sidecar file
(``<db>.write-lock``), which wakes the next waiter the moment the lock is released, across threads and
processes alike (measured: /request_token went from ~450 to several thousand per second with two
uvicorn workers).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.pool import NullPool, PoolProxiedConnection

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)
_WRITE_FLAG = "ramal_write"


def create_database_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine configured for ramal's access pattern on either backend."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg prepares a statement after its 5th run, and PostgreSQL may then switch to one generic
        # plan for every parameter value. Tenants differ 1000x in size, so a plan must see its values:
        # a generic plan turned a 0.05 ms callerid lookup into a 3.6 ms index walk (bench/statement.py).
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()

    return engine


class _SQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite with our own BEGIN: ``BEGIN IMMEDIATE`` for a write transaction, ``BEGIN`` otherwise.

    Emitted here rather than from an engine ``"begin"`` event (SQLAlchemy's recipe): any engine event
    listener makes SQLAlchemy dispatch events around every statement of every connection, measured at
    21 -> 17.5 us for a primary-key lookup on a held connection.
    """

    supports_statement_cache = True  # a subclass must say so, or SQLAlchemy compiles every statement anew

    def do_begin(self, dbapi_connection: PoolProxiedConnection) -> None:
        mode = "BEGIN IMMEDIATE" if dbapi_connection.info.get(_WRITE_FLAG) else "BEGIN"
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(mode)
        finally:
            cursor.close()


registry.register("sqlite.ramal", __name__, "_SQLiteDialect")


def _sqlite_engine(url: str) -> Engine:
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        make_url(url).set(drivername="sqlite+ramal"),
        connect_args={"check_same_thread": False},
        poolclass=NullPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's implicit transactions are not IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine


class Database:
    """Owns the engine; hands out connections inside a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name  # "sqlite" | "postgresql"
        database_file = engine.url.database if self.dialect == "sqlite" else None
        self._write_lock_path = (
            f"{database_file}.write-lock" if database_file not in (None, "", ":memory:") else None
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_database_engine(url))

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any exception."""
        with self.writer_queue(), self.engine.connect() as connection:
            connection.info[_WRITE_FLAG] = True
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop(_WRITE_FLAG, None)

    @contextmanager
    def writer_queue(self) -> Iterator[None]:
        """This process's turn among SQLite writers; for bulk loads that write on a raw connection."""
        if self._write_lock_path is None:
            yield
            return
        with open(self._write_lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
            yield

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both backends)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def held_writer(self, session_settings: str | None = None) -> HeldWriter:
        """A connection kept open across write transactions, for a loop that writes many times a second;
        ``session_settings`` (``SET`` statements) are put in force once per connection."""
        return HeldWriter(self, session_settings)

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


class HeldWriter:
    """Write transactions on one connection kept across them (the dispatcher's steps).

    :meth:`Database.write` checks a connection out of the pool for each transaction, which costs the
    pool's bookkeeping and, on PostgreSQL, a ``pool_pre_ping`` round trip: a fixed cost the
    dispatcher paid hundreds of times a second. Here the connection is opened once; the transaction
    semantics are :meth:`Database.write`'s (writer queue and ``BEGIN IMMEDIATE`` on SQLite). A
    transaction that fails gives the connection back (it may be the one that broke: a database
    restart) and the next checks one out again, through the pool's pre-ping. One transaction at a
    time: a second caller, or :meth:`close`, waits for the first (the dispatcher's shutdown step may
    start while a cancelled step still runs in its thread).

    Settings made for the session (``session_settings``) would outlive it in the pool, so such a
    connection is closed for good rather than given back.
    """

    def __init__(self, database: Database, session_settings: str | None = None) -> None:
        self._database = database
        self._session_settings = session_settings
        self._connection: Connection | None = None
        self._turn = threading.RLock()  # close() runs inside write() on failure

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any exception."""
        with self._turn, self._database.writer_queue():
            connection = self._connection if self._connection is not None else self._open()
            try:
                with connection.begin():
                    yield connection
            except BaseException:
                self.close()
                raise

    def _open(self) -> Connection:
        connection = self._database.engine.connect()
        connection.info[_WRITE_FLAG] = True
        if self._session_settings:
            with connection.begin():
                connection.exec_driver_sql(self._session_settings)
        self._connection = connection
        return connection

    def close(self) -> None:
        """Give the connection back to the pool (where others must not inherit the write flag)."""
        with self._turn:
            connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):  # a broken connection is discarded by the pool
            try:
                connection.info.pop(_WRITE_FLAG, None)
                if self._session_settings:
                    connection.invalidate()  # its settings must not reach the pool's other users
            finally:
                connection.close()
