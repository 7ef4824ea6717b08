"""The Alembic migrations produce exactly the schema of ``store/tables.py``, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from ramal.store.database import Database
from ramal.store.migrations import upgrade
from ramal.store.tables import metadata
from ramal.testing.databases import SqliteTemplate


def test_migrations_match_tables(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        database.dispose()
    assert differences == []


def test_sqlite_tables_are_rowid_tables_exactly_as_declared(sqlite_template: SqliteTemplate) -> None:
    """``compare_metadata`` does not look at ``sqlite_with_rowid``; this does."""
    with sqlite3.connect(sqlite_template.template) as connection:
        tables = connection.execute(_TABLES).fetchall()
    without_rowid = {name for name, sql in tables if sql.rstrip().endswith("WITHOUT ROWID")}
    declared = {
        name for name, table in metadata.tables.items() if not table.kwargs.get("sqlite_with_rowid", True)
    }
    assert declared == {"call_fields"}
    assert without_rowid == declared


def test_rebuilding_call_fields_without_rowid_keeps_its_rows(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with sqlite3.connect(tmp_path / "old.db") as connection:
        connection.executescript(_ONE_CALL_WITH_TWO_FIELDS)
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as connection:
        rows = connection.execute("SELECT call_id, key, value FROM call_fields ORDER BY key").fetchall()
        plan = connection.execute(f"EXPLAIN QUERY PLAN {_FILTERED_IDS}").fetchall()
    assert rows == [("c1", "a", "1"), ("c1", "b", "2")]
    assert "COVERING INDEX ix_call_fields_pin_lookup" in plan[0][-1]


_TABLES = "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
_FILTERED_IDS = "SELECT call_id FROM call_fields WHERE pin_id = 1 AND key = 'a' AND value = '1'"
_ONE_CALL_WITH_TWO_FIELDS = """
INSERT INTO accounts VALUES (1, 'a', 'UTC', '2026-01-01 00:00:00.000000', 0);
INSERT INTO pins VALUES (1, 1, '1001', '2026-01-01 00:00:00.000000');
INSERT INTO calls (id, account_id, pin_id, direction, origin, destination, status, record, invert_dial,
    source, created_at, started_at, duration_seconds, billable_seconds, event_sequence)
VALUES ('c1', 1, 1, 'outbound', '1001', '554130600300', 'completed', 0, 0, 'api',
    '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 0, 0, 0);
INSERT INTO call_fields VALUES ('c1', 'a', '1', 1, 1, '2026-01-01 00:00:00.000000');
INSERT INTO call_fields VALUES ('c1', 'b', '2', 1, 1, '2026-01-01 00:00:00.000000');
"""
