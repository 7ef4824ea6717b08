"""Alembic environment: the engine comes from :func:`ramal.store.migrations.alembic_config`."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

from ramal.store.tables import metadata

engine: Engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
applied: list[Any] = []


def check_foreign_keys(connection: Connection) -> None:
    if broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall():
        raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")


with engine.connect() as connection:
    if sqlite:
        # Our engine emits BEGIN itself; ask for IMMEDIATE so concurrent migrators queue.
        connection.info["ramal_write"] = True
        # SQLite changes a table by rebuilding it (copy, drop, rename); with foreign keys on, dropping
        # a table that others reference would cascade to their rows or fail. They are off for the
        # migration (the pragma is ignored inside a transaction, hence before it), on a connection
        # that is closed afterwards instead of going back to the pool, and checked before the commit.
        connection.detach()
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        compare_type=True,
        # One transaction for the whole upgrade on SQLite too (Alembic would commit per revision): a
        # revision that fails, or the check below, leaves the schema as it was.
        transactional_ddl=True,
        on_version_apply=lambda **step: applied.append(step),
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and applied:
            check_foreign_keys(connection)
    connection.commit()
