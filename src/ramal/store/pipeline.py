"""PostgreSQL statements sent together, in one round trip: psycopg's pipeline mode.

A dispatcher step is a handful of statements of which only the last few depend on what the earlier
ones return, and each round trip of a busy worker's step thread took 2-4 ms (the loop holds the GIL
and the cores are shared), several times what the statements cost the server. SQLAlchemy reads each
statement's result the moment it is sent, which a pipeline defers, so the statements that go in one
run on the driver's own cursor: compiled once by SQLAlchemy (:class:`DriverStatement`), their errors
raised as SQLAlchemy's (``DataError``, ``IntegrityError``...), as any other statement's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import DBAPIError

from ramal.store.types import stored_utc


class DriverStatement:
    """A SQLAlchemy statement compiled once for the connection's dialect, run on the driver."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: Compiled | None = None

    def render(self, connection: Connection, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL and its parameters (the statement's literals included; datetimes as naive UTC, the
        way :class:`UTCDateTime` stores them)."""
        if self._compiled is None:
            self._compiled = self._statement.compile(dialect=connection.dialect)  # type: ignore[attr-defined]
        parameters = self._compiled.construct_params(values) or {}
        return self._compiled.string, {
            name: stored_utc(value) if isinstance(value, datetime) else value
            for name, value in parameters.items()
        }


class Pipeline:
    """Statements queued on one connection; their results arrive when the pipeline ends."""

    def __init__(self, connection: Connection, driver: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self._driver = driver

    def send(self, statement: DriverStatement | str, values: dict[str, Any]) -> psycopg.Cursor[Any]:
        """Queue a statement; its cursor's rows (named tuples) may be read once the pipeline ended."""
        if isinstance(statement, DriverStatement):
            sql, values = statement.render(self.connection, values)
        else:
            sql = statement
        cursor = self._driver.cursor(row_factory=namedtuple_row)
        cursor.execute(sql, values)
        return cursor


@contextmanager
def pipeline(connection: Connection) -> Iterator[Pipeline]:
    """A pipeline on ``connection``'s PostgreSQL driver connection, in its current transaction: the
    statements queued inside go to the server, and their results come back, when the block ends."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.pipeline():
            yield Pipeline(connection, driver)
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
