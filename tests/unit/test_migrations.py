"""The Alembic migrations produce exactly the schema of ``store/tables.py``, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ramal.store.database import Database
from ramal.store.tables import metadata


def test_migrations_match_tables(database_url: str) -> None:
    database = Database.from_url(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        database.dispose()
    assert differences == []
