"""Bulk insertion of imported calls, skipping those already present (same account and external id).

Row-at-a-time SQLAlchemy inserts manage ~5k rows/s; CDR imports need ten times that, so rows arrive
as plain lists in the column order below and go to the driver directly: one ``executemany`` per batch
on SQLite, ``COPY`` on PostgreSQL (~2x executemany there, ``limits.md`` §2), after one indexed lookup
of the batch's keys. Times are given already encoded by :func:`encode_time`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from ramal.store.database import Database
from ramal.store.sqlite_bulk import SqliteBulkWriter

CALL_COLUMNS = (
    "id",
    "account_id",
    "pin_id",
    "direction",
    "origin",
    "destination",
    "status",
    "record",
    "invert_dial",
    "source",
    "external_id",
    "created_at",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "billable_seconds",
    "end_reason",
    "campos",
    "event_sequence",
)
FIELD_COLUMNS = ("call_id", "key", "value", "account_id", "pin_id", "started_at")

CallRow = list[Any]  # values in CALL_COLUMNS order
FieldRow = list[Any]  # values in FIELD_COLUMNS order
BatchStore = Callable[[Sequence[CallRow], Sequence[FieldRow], Callable[[], str]], int]

_CALL_LIST = ", ".join(CALL_COLUMNS)
_FIELD_LIST = ", ".join(FIELD_COLUMNS)
_ACCOUNT_ID = CALL_COLUMNS.index("account_id")
_EXTERNAL_ID = CALL_COLUMNS.index("external_id")
# Foreign-key checks run a cached SPI query per inserted row, and the engine's connections set
# ``plan_cache_mode = force_custom_plan`` (store/database.py): under it PostgreSQL re-planned that
# primary-key probe for every row, 45 % of the server's time in a CDR import (perf). Their plan never
# depends on the value, so the import's transaction uses generic plans.
_GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"
_IMPORT_LOCK = 0x52414D  # advisory lock namespace of CDR imports ("RAM"), keyed by account
_LOOKUP_CHUNK = 5_000  # well under SQLite's 32,766 bound parameters
_SQLITE_INSERT_CALLS = f"INSERT INTO calls ({_CALL_LIST}) VALUES ({', '.join('?' * len(CALL_COLUMNS))})"  # noqa: S608
_SQLITE_INSERT_FIELDS = (
    f"INSERT INTO call_fields ({_FIELD_LIST}) VALUES ({', '.join('?' * len(FIELD_COLUMNS))})"  # noqa: S608
)


def encode_time(utc_text: str) -> str:
    """A UTC ``YYYY-MM-DD HH:MM:SS`` as :class:`~ramal.store.types.UTCDateTime` stores it on SQLite.

    SQLAlchemy's SQLite ``DateTime`` writes ``YYYY-MM-DD HH:MM:SS.ffffff`` and compares stored text
    with bound text, so the exact form matters; PostgreSQL's ``timestamp`` input reads it as well.
    """
    return utc_text + ".000000"


@contextmanager
def sqlite_batch_store(database: Database) -> Iterator[BatchStore]:
    """A function storing one batch like :func:`insert_new_calls`, in a transaction of its own (SQLite
    imports commit batch by batch, so the single write lock is released between batches).

    The import's connection skips SQLite's per-row foreign-key checks: 2 primary-key probes per call
    and 1 per field row, ~8 % of the store (bench/cdr_import.py). They are redundant here: the rows'
    account and pin were read before the import (neither is ever deleted) and field rows only go in
    with their call. Index pages of a million-row import outgrow the default 64 MiB page cache; 512 MiB
    took a 1M-row import from ~28k to ~40k rows/s (SQLite only allocates the pages it uses).
    """
    with SqliteBulkWriter(database, ("foreign_keys=OFF", "cache_size=-524288")) as writer:

        def store(calls: Sequence[CallRow], fields: Sequence[FieldRow], new_id: Callable[[], str]) -> int:
            with writer.transaction() as cursor:
                return _insert_sqlite(cursor, calls, fields, new_id)

        yield store


def insert_new_calls(
    connection: Connection, calls: Sequence[CallRow], fields: Sequence[FieldRow], new_id: Callable[[], str]
) -> int:
    """Insert ``calls`` whose (account, external id) is new, and the ``fields`` of those calls only, in
    the caller's transaction (PostgreSQL, where an import is one transaction).

    Returns how many calls were inserted. Rows come without call ids (``None``; a field row holds
    its call's index in ``calls``): ids are made here, only for the calls inserted, so a re-run that
    adds nothing makes none.
    """
    if not calls:
        return 0
    return _insert_postgresql(connection, calls, fields, new_id)


def _insert_sqlite(
    cursor: Any, calls: Sequence[CallRow], fields: Sequence[FieldRow], new_id: Callable[[], str]
) -> int:
    """Plain executemany of the calls not yet stored, found with one indexed lookup per chunk.

    Looking the keys up first is ~2x faster than ``INSERT ... SELECT ... WHERE EXISTS`` per field row,
    and exact: the caller holds SQLite's write lock (``BEGIN IMMEDIATE``), so no one inserts between.
    """
    if not calls:
        return 0
    new_calls = _first_of_each_key(calls, _present_keys(cursor, calls))
    fields = _with_ids(calls, new_calls, fields, new_id)
    cursor.executemany(_SQLITE_INSERT_CALLS, new_calls)
    cursor.executemany(_SQLITE_INSERT_FIELDS, fields)
    return len(new_calls)


def _first_of_each_key(calls: Sequence[CallRow], present: set[str]) -> list[CallRow]:
    """The calls whose key is neither stored nor taken by an earlier call of the batch."""
    seen = set(present)
    fresh = []
    for row in calls:
        key = row[_EXTERNAL_ID]
        if key not in seen:
            seen.add(key)
            fresh.append(row)
    return fresh


def _with_ids(
    calls: Sequence[CallRow], new_calls: list[CallRow], fields: Sequence[FieldRow], new_id: Callable[[], str]
) -> list[FieldRow]:
    """Give ``new_calls`` (rows of ``calls``) fresh ids, in order (UUIDv7 keeps the primary-key index
    appending), and return the field rows of those calls, pointing at them by id."""
    for row in new_calls:
        row[0] = new_id()
    kept = []
    for row in fields:
        call_id = calls[row[0]][0]
        if call_id is not None:
            row[0] = call_id
            kept.append(row)
    return kept


def _present_keys(cursor: Any, calls: Sequence[CallRow]) -> set[str]:
    """External ids of ``calls`` already stored for their account (one account per batch)."""
    if not calls:
        return set()
    account_id = calls[0][_ACCOUNT_ID]
    present: set[str] = set()
    for start in range(0, len(calls), _LOOKUP_CHUNK):
        keys = [row[_EXTERNAL_ID] for row in calls[start : start + _LOOKUP_CHUNK]]
        marks = ", ".join("?" * len(keys))
        cursor.execute(
            f"SELECT external_id FROM calls WHERE account_id = ? AND external_id IN ({marks})",  # noqa: S608
            (account_id, *keys),
        )
        present.update(key for (key,) in cursor.fetchall())
    return present


def _copy(cursor: Any, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_postgresql(
    connection: Connection, calls: Sequence[CallRow], fields: Sequence[FieldRow], new_id: Callable[[], str]
) -> int:
    """``COPY`` of the calls not yet stored straight into the tables.

    Measured against COPY into a staging table + ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``:
    as fast on a first import and ~1.5x faster on a re-run. Exactness comes from a transaction-level
    advisory lock per account, held until the importing transaction ends, so two imports into one
    account take turns (calls made through the API have no external id and never collide).
    """
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        account_id = calls[0][_ACCOUNT_ID]
        cursor.execute(_GENERIC_PLANS)
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_IMPORT_LOCK, account_id))
        cursor.execute(
            "SELECT external_id FROM calls WHERE account_id = %s AND external_id = ANY(%s)",
            (account_id, [row[_EXTERNAL_ID] for row in calls]),
        )
        present = {key for (key,) in cursor.fetchall()}
        new_calls = _first_of_each_key(calls, present)
        fields = _with_ids(calls, new_calls, fields, new_id)
        _copy(cursor, "calls", _CALL_LIST, new_calls)
        _copy(cursor, "call_fields", _FIELD_LIST, fields)
    return len(new_calls)
