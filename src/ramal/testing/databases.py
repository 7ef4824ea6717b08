"""Disposable, migrated databases: a SQLite file per test, a PostgreSQL schema per run.

SQLite tests copy a template file migrated once (a copy is ~1 ms; migrating is ~200 ms). PostgreSQL
tests share one schema per run (so parallel runs never collide) and truncate it between tests.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, inspect, text

from ramal.store.migrations import upgrade
from ramal.store.tables import metadata

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_available(url: str = DEFAULT_POSTGRES_URL) -> str | None:
    """``None`` if PostgreSQL answers at ``url``, else the reason it does not."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    finally:
        engine.dispose()


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        engine = create_engine(f"sqlite:///{self.template}")
        upgrade(engine)
        engine.dispose()

    def fresh_url(self) -> str:
        target = self.directory / f"db-{secrets.token_hex(6)}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


class PostgresSchema:
    def __init__(self, base_url: str = DEFAULT_POSTGRES_URL) -> None:
        self.base_url = base_url
        self.schema = f"ramal_test_{secrets.token_hex(5)}"
        self._admin = create_engine(base_url)
        with self._admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.url = f"{base_url}?options={quote(f'-csearch_path={self.schema}')}"
        engine = create_engine(self.url)
        upgrade(engine)
        engine.dispose()

    def truncate(self, engine: Engine) -> None:
        tables = [t.name for t in metadata.sorted_tables if inspect(engine).has_table(t.name)]
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))

    def drop(self) -> None:
        with self._admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._admin.dispose()
