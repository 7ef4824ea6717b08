"""Alembic environment: the engine comes from :func:`ramal.store.migrations.alembic_config`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ramal.store.tables import metadata

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if engine.dialect.name == "sqlite":
        # Our engine emits BEGIN itself; ask for IMMEDIATE so concurrent migrators queue.
        connection.info["ramal_write"] = True
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
