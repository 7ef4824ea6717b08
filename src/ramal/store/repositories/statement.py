"""Statement reads over calls and messages: one COUNT and one page per request, both on indexes.

Why the queries look the way they do (``limits.md`` §2, measured at millions of rows):

- The order is ``started_at DESC, id DESC`` and every index the statement drives on ends with
  ``(started_at, id)``: ``(pin_id | account_id, started_at, id)`` on the records and
  ``(pin_id | account_id, key, value, started_at, id)`` on the custom-field side tables. So the page is
  an ordered index range scan with no sort, and the COUNT (for ``paginas``, the costliest part) is an
  index-only scan whenever no filter needs a column outside the index.
- The page is a *deferred join*: the ``LIMIT/OFFSET`` runs over ids in the index, and only the page's
  own rows are fetched from the table. A deep page (``OFFSET`` 10 000) then skips index entries, not
  table rows.
- A custom-field filter drives the scan from the side table (first key); further keys are ``EXISTS``
  probes on the side table's primary key ``(record id, key)``; other filters join the record.

The repository knows nothing of the wire: it takes a :class:`StatementQuery` and returns plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    Table,
    bindparam,
    exists,
    func,
    literal,
    select,
)

from ramal.store.tables import (
    accounts,
    call_fields,
    calls,
    message_fields,
    messages,
    pins,
    recordings,
)


@dataclass(frozen=True, slots=True)
class Source:
    """A kind of record a statement lists, with its custom-field side table."""

    table: Table
    fields: Table
    fields_ref: Column[Any]  # the side table's column pointing at the record id
    public_id: Column[Any]  # what the wire's ``callerid`` filter matches


CALLS = Source(calls, call_fields, call_fields.c.call_id, calls.c.id)
MESSAGES = Source(messages, message_fields, message_fields.c.message_id, messages.c.callerid)


@dataclass(frozen=True, slots=True)
class StatementQuery:
    """Which records: one tenant scope, a half-open time range, optional equality filters.

    ``pin_id`` ``None`` means every pin of ``account_id`` (admin ``getAllPins``). ``equals`` are
    ``(column name, allowed values)`` pairs on the record; ``fields`` are custom-field equalities,
    all required.
    """

    account_id: int
    pin_id: int | None
    start: datetime  # inclusive
    end: datetime  # exclusive
    public_id: str | None = None
    equals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    recorded_only: bool = False
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    expires_at: datetime | None
    purged_at: datetime | None


@dataclass(slots=True)
class StatementRow:
    """One record of a page: the record's columns by name, its pin, its recording (calls)."""

    values: dict[str, Any] = field(default_factory=dict)
    pin: str = ""
    recording: RecordingInfo | None = None


# Columns a page returns, per source; ``campos`` is added only when the caller asks for it.
_CALL_COLUMNS = (
    "id",
    "direction",
    "origin",
    "destination",
    "status",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_seconds",
    "billable_seconds",
    "recording_id",
)
_MESSAGE_COLUMNS = (
    "id",
    "callerid",
    "kind",
    "direction",
    "origin",
    "destination",
    "status",
    "segments",
    "attempts",
    "started_at",
    "sent_at",
    "delivered_at",
)


class StatementRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def unanswered_statement_enabled(self, account_id: int) -> bool:
        query = select(accounts.c.unanswered_statement).where(accounts.c.id == account_id)
        return bool(self.connection.execute(query).scalar())

    def set_unanswered_statement(self, account_id: int, enabled: bool) -> bool:
        """Switch the optional feature; False when there is no such account."""
        result = self.connection.execute(
            accounts.update().where(accounts.c.id == account_id).values(unanswered_statement=enabled)
        )
        return bool(result.rowcount)

    def count(self, source: Source, query: StatementQuery) -> int:
        shape, params = _shape(source, query, with_fields=False)
        return int(self.connection.execute(_statements(shape)[0], params).scalar_one())

    def page(
        self, source: Source, query: StatementQuery, *, limit: int, offset: int, with_fields: bool
    ) -> list[StatementRow]:
        shape, params = _shape(source, query, with_fields=with_fields)
        params.update(limit=limit, offset=offset)
        rows = self.connection.execute(_statements(shape)[1], params).all()
        names = _page_columns(source, with_fields=with_fields)
        return [_to_row(source, names, row) for row in rows]


# --- query shapes ----------------------------------------------------------------------------------
# Building a SQLAlchemy statement costs more than running it on an index (~1 ms against ~0.2 ms), so
# each *shape* of query (which filters are present, not their values) is built once, with bind
# parameters, and reused; SQLAlchemy's compiled cache then also hits every time.


@dataclass(frozen=True, slots=True)
class _Shape:
    source: str  # "calls" | "messages"
    by_pin: bool
    public_id: bool
    equals: tuple[str, ...]  # column names, each bound to an expanding IN list
    recorded_only: bool
    fields: int  # how many custom-field equalities
    with_fields: bool


_SOURCES = {"calls": CALLS, "messages": MESSAGES}


def _shape(source: Source, query: StatementQuery, *, with_fields: bool) -> tuple[_Shape, dict[str, Any]]:
    shape = _Shape(
        source=source.table.name,
        by_pin=query.pin_id is not None,
        public_id=query.public_id is not None,
        equals=tuple(name for name, _ in query.equals),
        recorded_only=query.recorded_only,
        fields=len(query.fields),
        with_fields=with_fields,
    )
    params: dict[str, Any] = {
        "scope": query.pin_id if query.pin_id is not None else query.account_id,
        "account_id": query.account_id,
        "start": query.start,
        "end": query.end,
        "public_id": query.public_id,
    }
    for name, allowed in query.equals:
        params[f"eq_{name}"] = list(allowed)
    for index, (key, value) in enumerate(query.fields):
        params[f"key_{index}"] = key
        params[f"value_{index}"] = value
    return shape, params


@lru_cache(maxsize=512)
def _statements(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """(COUNT, page) for a shape; the page takes ``limit`` and ``offset`` parameters."""
    source = _SOURCES[shape.source]
    driver, started, record_id = _driver(source, shape)
    count = driver.with_only_columns(func.count())
    ids = (
        driver.with_only_columns(record_id.label("rid"), started.label("rstart"))
        .order_by(started.desc(), record_id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    table = source.table
    columns: list[Any] = [table.c[name] for name in _page_columns(source, with_fields=shape.with_fields)]
    columns.append(pins.c.pin)
    page = (
        select(*columns)
        .select_from(ids)
        .join(table, table.c.id == ids.c.rid)
        .join(pins, pins.c.id == table.c.pin_id)
        # Defence in depth: even a mislabelled side-table row cannot pull in another tenant's record.
        .where(table.c.account_id == bindparam("account_id"))
        .order_by(ids.c.rstart.desc(), ids.c.rid.desc())
    )
    if source is CALLS:
        page = page.add_columns(
            recordings.c.expires_at.label("recording_expires_at"),
            recordings.c.purged_at.label("recording_purged_at"),
        ).outerjoin(recordings, recordings.c.id == table.c.recording_id)
    return count, page


def _driver(source: Source, shape: _Shape) -> tuple[Select[Any], Column[Any], Column[Any]]:
    """The filtered set as a SELECT without columns, plus its start and id columns for ordering."""
    table = source.table
    record_conditions = _record_conditions(source, shape)
    if not shape.fields:
        scope = table.c.pin_id if shape.by_pin else table.c.account_id
        conditions = [
            scope == bindparam("scope"),
            table.c.started_at >= bindparam("start"),
            table.c.started_at < bindparam("end"),
            *record_conditions,
        ]
        return select(literal(1)).select_from(table).where(*conditions), table.c.started_at, table.c.id

    side = source.fields
    side_scope = side.c.pin_id if shape.by_pin else side.c.account_id
    conditions = [
        side_scope == bindparam("scope"),
        side.c.key == bindparam("key_0"),
        side.c.value == bindparam("value_0"),
        side.c.started_at >= bindparam("start"),
        side.c.started_at < bindparam("end"),
    ]
    ref = source.fields_ref
    for index in range(1, shape.fields):
        other = side.alias(f"f_{index}")
        conditions.append(
            exists().where(
                other.c[ref.name] == ref,
                other.c.key == bindparam(f"key_{index}"),
                other.c.value == bindparam(f"value_{index}"),
            )
        )
    statement = select(literal(1)).select_from(side)
    if record_conditions:
        statement = statement.join(table, table.c.id == ref)
        conditions.extend(record_conditions)
    return statement.where(*conditions), side.c.started_at, ref


def _record_conditions(source: Source, shape: _Shape) -> list[ColumnElement[bool]]:
    table = source.table
    conditions: list[ColumnElement[bool]] = []
    if shape.public_id:
        conditions.append(source.public_id == bindparam("public_id"))
    for name in shape.equals:
        conditions.append(table.c[name].in_(bindparam(f"eq_{name}", expanding=True)))
    if shape.recorded_only:
        conditions.append(table.c.recording_id.is_not(None))
    return conditions


@lru_cache(maxsize=4)
def _page_columns(source: Source, *, with_fields: bool) -> tuple[str, ...]:
    """The record columns a page selects first, in order (``campos`` only when asked for)."""
    names = _CALL_COLUMNS if source is CALLS else _MESSAGE_COLUMNS
    return (*names, "campos") if with_fields else names


def _to_row(source: Source, names: tuple[str, ...], row: Row[Any]) -> StatementRow:
    # By position: the page selects ``names`` first (``_page_columns``). Looking each one up by name
    # (RowMapping) cost 1.6 µs a row against 1.3 µs.
    values = dict(zip(names, row, strict=False))
    recording = None
    if source is CALLS and values["recording_id"] is not None:
        recording = RecordingInfo(row.recording_expires_at, row.recording_purged_at)
    return StatementRow(values, row.pin, recording)
