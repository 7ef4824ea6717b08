"""The Alembic migrations produce exactly the schema of ``store/tables.py``, on both backends."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from ramal.clock import ManualClock
from ramal.ids import RandomIds
from ramal.services.accounts import AccountService
from ramal.store.database import Database
from ramal.store.migrations import alembic_config, current_revision, upgrade
from ramal.store.tables import calls, deliveries, metadata, outbox, pins
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


def test_the_postgresql_delivery_queue_is_stored_as_declared(database_url: str) -> None:
    """``compare_metadata`` looks at neither index predicates nor storage parameters; this does."""
    if not database_url.startswith("postgresql"):
        pytest.skip("partial queue indexes and fillfactor are PostgreSQL's (migration 0005)")
    database = Database.from_url(database_url)
    try:
        with database.engine.connect() as connection:
            options = connection.execute(text(_DELIVERIES_OPTIONS)).scalar_one()
            predicates = dict(connection.execute(text(_DELIVERIES_PREDICATES)).tuples().all())
    finally:
        database.dispose()
    partial = {
        str(index.name)
        for index in deliveries.indexes
        if index.dialect_options["postgresql"]["where"] is not None
    }
    assert options == ["fillfactor=50"]
    assert partial == {"ix_deliveries_due", "ix_deliveries_endpoint_subject"}
    assert {name for name, predicate in predicates.items() if predicate} == partial
    assert {predicates[name] for name in partial} == {"((state)::text = 'pending'::text)"}


_DELIVERIES_OPTIONS = "SELECT reloptions FROM pg_class WHERE oid = 'deliveries'::regclass"
_DELIVERIES_PREDICATES = (
    "SELECT indexrelid::regclass::text, pg_get_expr(indpred, indrelid) FROM pg_index "
    "WHERE indrelid = 'deliveries'::regclass"
)


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


def test_rebuilding_tables_on_sqlite_keeps_every_row(tmp_path: Path) -> None:
    """Migrations rebuild call_fields (0002), pins and calls (0003), with the service's engine, whose
    connections have foreign keys on: a dropped calls table must not take its fields with it."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(database.engine, "0001")
        with sqlite3.connect(tmp_path / "old.db") as connection:
            connection.executescript(_ONE_CALL_WITH_TWO_FIELDS_AND_A_RECORDING)
        upgrade(database.engine)
    finally:
        database.dispose()
    with sqlite3.connect(tmp_path / "old.db") as connection:
        rows = connection.execute("SELECT call_id, key, value FROM call_fields ORDER BY key").fetchall()
        recordings = connection.execute("SELECT call_id FROM recordings").fetchall()
        plan = connection.execute(f"EXPLAIN QUERY PLAN {_FILTERED_IDS}").fetchall()
    assert rows == [("c1", "a", "1"), ("c1", "b", "2")]
    assert recordings == [("c1",)]
    assert "COVERING INDEX ix_call_fields_pin_lookup" in plan[0][-1]


def test_a_sqlite_migration_leaving_broken_foreign_keys_is_rolled_back(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(database.engine, "0002")
        with sqlite3.connect(tmp_path / "old.db") as connection:  # foreign keys off, as in SQLite's default
            connection.executescript(
                _ONE_CALL_WITH_TWO_FIELDS_AND_A_RECORDING.replace("'c1', 1, 1,", "'c1', 1, 9,")
            )
        with pytest.raises(RuntimeError, match="foreign keys point nowhere"):
            upgrade(database.engine)
        assert current_revision(database.engine) == "0002"
    finally:
        database.dispose()


def test_events_not_fanned_out_are_carried_into_the_outbox_and_back(database_url: str) -> None:
    """Migration 0006 queues the events whose flag said "not fanned out", in creation order; its
    downgrade sets the flag from the outbox again."""
    database = Database.from_url(database_url)
    try:
        command.downgrade(alembic_config(database.engine), "0005")
        with database.engine.begin() as connection:
            for statement in (_ACCOUNT, _PIN, _THREE_EVENTS):
                connection.execute(text(statement))
        upgrade(database.engine)
        with database.read() as connection:
            in_order = select(outbox.c.event_id, outbox.c.subject_id).order_by(outbox.c.id)
            queued = connection.execute(in_order).all()
        command.downgrade(alembic_config(database.engine), "0005")
        with database.read() as connection:
            flags = connection.execute(text("SELECT id, fanned_out FROM events ORDER BY id")).all()
    finally:
        upgrade(database.engine)  # the PostgreSQL schema is shared by the tests that follow
        database.dispose()
    assert queued == [("e3", "c2"), ("e1", "c1")]  # e3 was created first
    assert [(event, bool(flag)) for event, flag in flags] == [("e1", False), ("e2", True), ("e3", False)]


def test_a_call_names_a_pin_of_its_own_account(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        accounts = AccountService(database, ManualClock(), RandomIds(), "UTC")
        first, second = accounts.create_account("First"), accounts.create_account("Second")
        with database.read() as connection:
            pin_of_second = connection.execute(select(pins.c.id).where(pins.c.pin == second.pin)).scalar_one()
        row = {**_CALL, "account_id": first.account_id, "pin_id": pin_of_second}
        with pytest.raises(IntegrityError), database.write() as connection:
            connection.execute(insert(calls), row)
    finally:
        database.dispose()


_TABLES = "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
_FILTERED_IDS = "SELECT call_id FROM call_fields WHERE pin_id = 1 AND key = 'a' AND value = '1'"
_ONE_CALL_WITH_TWO_FIELDS_AND_A_RECORDING = """
INSERT INTO accounts VALUES (1, 'a', 'UTC', '2026-01-01 00:00:00.000000', 0);
INSERT INTO pins VALUES (1, 1, '1001', '2026-01-01 00:00:00.000000');
INSERT INTO calls (id, account_id, pin_id, direction, origin, destination, status, record, invert_dial,
    source, created_at, started_at, duration_seconds, billable_seconds, event_sequence)
VALUES ('c1', 1, 1, 'outbound', '1001', '554130600300', 'completed', 0, 0, 'api',
    '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 0, 0, 0);
INSERT INTO call_fields VALUES ('c1', 'a', '1', 1, 1, '2026-01-01 00:00:00.000000');
INSERT INTO call_fields VALUES ('c1', 'b', '2', 1, 1, '2026-01-01 00:00:00.000000');
INSERT INTO recordings VALUES ('r1', 'c1', 1, 'r1.mp3', 'audio/mpeg', 1, 1,
    '2026-01-01 00:00:00.000000', '2026-04-01 00:00:00.000000', NULL);
"""
_ACCOUNT = (
    "INSERT INTO accounts (id, name, timezone, created_at, unanswered_statement) "
    "VALUES (1, 'a', 'UTC', '2026-01-01 00:00:00', false)"
)
_PIN = "INSERT INTO pins (id, account_id, pin, created_at) VALUES (1, 1, '1001', '2026-01-01 00:00:00')"
_THREE_EVENTS = """
INSERT INTO events (id, account_id, pin_id, subject_type, subject_id, event_type, sequence, payload,
    created_at, fanned_out)
VALUES ('e1', 1, 1, 'call', 'c1', 'call.answered', 1, '{}', '2026-01-01 00:00:02', false),
       ('e2', 1, 1, 'call', 'c1', 'call.completed', 2, '{}', '2026-01-01 00:00:03', true),
       ('e3', 1, 1, 'call', 'c2', 'call.failed', 1, '{}', '2026-01-01 00:00:01', false)
"""
_CALL = {
    "id": "c1",
    "direction": "outbound",
    "origin": "1001",
    "destination": "554130600300",
    "status": "completed",
    "source": "api",
    "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    "started_at": datetime(2026, 1, 1, tzinfo=UTC),
}
