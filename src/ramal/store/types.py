"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator


def stored_utc(value: datetime) -> datetime:
    """An aware instant as :class:`UTCDateTime` stores it: naive UTC."""
    return value.astimezone(UTC).replace(tzinfo=None)


def loaded_utc(value: datetime) -> datetime:
    """A stored naive-UTC value as :class:`UTCDateTime` reads it: aware UTC.

    ``combine()`` attaches the zone like ``replace(tzinfo=UTC)`` at a quarter of its cost (keyword
    parsing dominates ``replace``); a statement page reads ~200 of these.
    """
    return datetime.combine(value, value.time(), UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive-UTC on both databases.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` would make the two backends return
    different types; storing naive UTC and re-attaching UTC on the way out keeps them identical and
    keeps the text form in SQLite sortable.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return stored_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else loaded_utc(value)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text (orjson), identical on both databases; we never query inside it.

    Equality filters on custom fields use the indexed side tables instead (DESIGN.md: a
    ``(account, key, value, start)`` index beats JSONB + GIN for this shape).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)
