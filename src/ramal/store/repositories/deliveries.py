"""Deliveries: one row per (event, endpoint), claimed under a lease, with every attempt logged.

Claiming is the concurrency-critical part. A delivery is claimable when it is pending, due, not leased
(or its lease expired: a worker died), and no earlier event of the same subject is still pending for
the same endpoint: that last rule is what keeps one call's events in order ("completed" never before
"answered") while different calls go in parallel. On PostgreSQL the candidates are locked ``FOR
UPDATE SKIP LOCKED`` so concurrent workers never claim the same row; on SQLite the write
transaction's ``BEGIN IMMEDIATE`` serialises claims.

A delivery of an endpoint that is not active (paused after days of failures, disabled by a 410) is
*parked*: pending with no due time, so the claim's walk of the due index never passes over it. An
endpoint's backlog is parked when it is paused or disabled, a new event for it is queued parked, and
a claim that still meets one (a replay, a pause racing a claim) parks it instead of leasing it;
resuming the endpoint makes its backlog due again. Claims therefore cost the same however many
endpoints there are and however deep a paused one's backlog has grown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Integer,
    Select,
    all_,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import aliased
from sqlalchemy.types import NullType

from ramal.store.pipeline import DriverStatement, pipeline
from ramal.store.tables import callback_endpoints, deliveries, delivery_attempts, events, outbox
from ramal.store.types import UTCDateTime, loaded_utc, stored_utc

_KIND_OF_SUBJECT = {"call": "voice", "message": "sms"}
_CLAIM_SLACK = 64  # extra candidates when several endpoints share a claim (see _walk_limit)
_EARLIER = aliased(deliveries, name="earlier")
# "An earlier event of this subject is still pending for this endpoint." Written as a correlated
# LIMIT 1 scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into a hash anti-join over the
# whole backlog (27 ms at 10k pending), while this form is checked row by row along the due index and
# stops at the claim's LIMIT.
_EARLIER_PENDING = (
    select(_EARLIER.c.id)
    .where(
        _EARLIER.c.endpoint_code == deliveries.c.endpoint_code,
        _EARLIER.c.subject_id == deliveries.c.subject_id,
        _EARLIER.c.sequence < deliveries.c.sequence,
        _EARLIER.c.state == "pending",
    )
    .limit(1)
    .scalar_subquery()
)
# "An earlier event of this subject is still in the outbox (as far as this transaction can see)." On
# PostgreSQL two workers fan out concurrently (SKIP LOCKED): if one holds a call's event 1 in its
# uncommitted batch, the other may insert and claim event 2 in its own transaction, where event 1's
# delivery does not exist yet, so ``_EARLIER_PENDING`` alone would let 2 go before 1. Event 1 is still
# in the outbox in that snapshot, which this catches; once the first commits, its pending delivery does.
_EARLIER_UNFANNED = (
    select(outbox.c.id)
    .where(outbox.c.subject_id == deliveries.c.subject_id, outbox.c.sequence < deliveries.c.sequence)
    .limit(1)
    .scalar_subquery()
)
# The claim reads the deliveries table alone, walking the due index in order and stopping at the
# LIMIT; endpoints and events are looked up by key afterwards. (Joining them into the claim let
# PostgreSQL, on the stale statistics a burst leaves behind, pick a bitmap scan of the whole backlog
# plus a sort: 60 ms per claim at 10k pending, against 0.4 ms for the index walk.) Statements are
# built once, with bind parameters, so each cycle only executes them.
# Pending, due by ``now``, and not leased (or its lease expired): what a claim may take, before the
# per-call order and endpoint checks.
_DUE_NOW = (
    deliveries.c.state == "pending",
    deliveries.c.next_attempt_at <= bindparam("now"),
    or_(deliveries.c.lease_expires_at.is_(None), deliveries.c.lease_expires_at <= bindparam("now")),
)


def _listed(column: ColumnElement[Any], name: str, sqlite: bool) -> ColumnElement[bool]:
    """``column IN`` the list parameter ``name``, as ONE parameter: an array (``= ANY``) on PostgreSQL,
    a JSON array read by ``json_each`` on SQLite. The statement then compiles to the same SQL whatever
    the list's length; SQLAlchemy's expanding parameters re-rendered it on every execution (6-10 % of
    a step bench's samples in py-spy), and SQLite's runs straight through the driver
    (:meth:`DeliveryRepository._sqlite_execute`)."""
    if sqlite:
        return column.in_(select(func.json_each(bindparam(name)).table_valued("value").c.value))
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def _not_listed(column: ColumnElement[Any], name: str, sqlite: bool) -> ColumnElement[bool]:
    """``column NOT IN`` the list parameter ``name`` (an empty list excludes nothing), as :func:`_listed`."""
    if sqlite:
        return column.not_in(select(func.json_each(bindparam(name)).table_valued("value").c.value))
    return column != all_(bindparam(name, type_=ARRAY(column.type)))


@dataclass(frozen=True, slots=True)
class _Twin:
    """A hot-path statement, built once for each backend (their list parameters differ: :func:`_listed`)."""

    postgresql: Executable
    sqlite: Executable


def _twin(build: Callable[[bool], Executable]) -> _Twin:
    return _Twin(postgresql=build(False), sqlite=build(True))


def _due_walk(sqlite: bool) -> Select[Any]:
    return (
        select(deliveries.c.id, deliveries.c.attempts, deliveries.c.event_id, deliveries.c.endpoint_code)
        .where(
            *_DUE_NOW,
            _not_listed(deliveries.c.endpoint_code, "full", sqlite),  # endpoints this process has no room for
            _EARLIER_PENDING.is_(None),
            _EARLIER_UNFANNED.is_(None),
        )
        .order_by(deliveries.c.next_attempt_at)  # exactly the due index: no sort of the backlog
        .limit(_walk_limit(sqlite))
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE serialises claims
    )


def _walk_limit(sqlite: bool) -> ColumnElement[int]:
    """How many candidates the due walk takes: the claim's limit, but no more than the room can
    hold, which is each endpoint's room for those this process holds claims of (``known``) and the
    default room for every other active endpoint; plus some slack when several endpoints may take
    claims, for when the first ones' fill up.

    Without the bound, one busy endpoint with 32 slots left had each step walk and lock some 200
    rows to lease 32 of them, and on PostgreSQL each lock is a WAL record and a dirtied page. The
    other endpoints are counted only when the known room and endpoints fall short: CASE and OR
    stop at the first answer, and PostgreSQL evaluates an uncorrelated subquery when first used."""
    endpoint = callback_endpoints.c
    others = (
        select(func.count())
        .where(endpoint.state == "active", _not_listed(endpoint.code, "known", sqlite))
        .scalar_subquery()
    )
    limit = bindparam("limit", type_=Integer)
    known_room, known_open = bindparam("known_room", type_=Integer), bindparam("known_open", type_=Integer)
    bound = known_room + bindparam("default_room", type_=Integer) * others
    smaller = func.min if sqlite else func.least  # SQLite's two-argument min() is its LEAST
    enough = case((known_room >= limit, limit), else_=smaller(limit, bound))
    several = or_(known_open >= 2, known_open + others >= 2)
    return enough + case((several, _CLAIM_SLACK), else_=0)


_DUE = _twin(_due_walk)
# Statistics lag a burst by up to a minute (autovacuum's analyze), and with them PostgreSQL believes
# the backlog is a few rows, so a sort, a bitmap or a sequential scan looks free. Every statement of a
# dispatcher step is an index walk or a key lookup, which is right at every size. JIT is off because a
# disabled plan type is costed at 1e10, far past ``jit_above_cost``: a one-row scan of the endpoints
# then took 30-50 ms of compiling.
_KEYED_PLANS = (
    "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off; "
    "SET LOCAL jit = off"
)
# The same for a whole session: a connection that serves only dispatcher steps (the dispatcher's held
# writer) sets them once, and its steps save the round trip (``keyed_session``).
KEYED_PLANS_SESSION = _KEYED_PLANS.replace("SET LOCAL", "SET")


_LEASE_SQLITE = (
    update(deliveries)
    .where(_listed(deliveries.c.id, "ids", True))
    .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("until"))
)
_GIVE_BACK = _twin(
    lambda sqlite: (
        update(deliveries)
        .where(
            _listed(deliveries.c.id, "ids", sqlite),
            deliveries.c.lease_owner == bindparam("owner"),
            deliveries.c.state == "pending",
        )
        .values(lease_owner=None, lease_expires_at=None)
    )
)
_OUTBOX_WALK = (
    select(
        outbox.c.id,
        outbox.c.event_id,
        outbox.c.account_id,
        outbox.c.pin_id,
        outbox.c.subject_type,
        outbox.c.subject_id,
        outbox.c.sequence,
    )
    .order_by(outbox.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# SQLite's fan-out, a statement at a time: the endpoints the batch's events may go to (matched to each
# event in Python, as :func:`_fan_out_in_one` does in SQL), and the batch taken out of the outbox.
_FAN_OUT_ENDPOINTS = select(
    callback_endpoints.c.code,
    callback_endpoints.c.account_id,
    callback_endpoints.c.pin_id,
    callback_endpoints.c.kind,
    callback_endpoints.c.state,
).where(_listed(callback_endpoints.c.account_id, "accounts", True), callback_endpoints.c.state != "removed")
_FANNED = delete(outbox).where(_listed(outbox.c.id, "ids", True))
_RECORD_ATTEMPT = insert(delivery_attempts).values(
    delivery_id=bindparam("b_id"),
    attempted_at=bindparam("b_at"),
    status_code=bindparam("b_status"),
    latency_ms=bindparam("b_latency"),
    response_snippet=bindparam("b_snippet"),
    error=bindparam("b_error"),
)
_RECORD_RESULT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.state == bindparam("b_was"))
    .values(
        state=bindparam("b_state"),
        attempts=deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next"),
        lease_owner=None,
        lease_expires_at=None,
        last_status_code=bindparam("b_status"),
        last_error=bindparam("b_error"),
        delivered_at=bindparam("b_delivered"),
    )
)
# Endpoint health, updated every step that records results: built once, like the statements above.
# (On PostgreSQL, clearing a delivered endpoint's failure mark rides in the record statement.)
_HEALTHY_SQLITE = (
    update(callback_endpoints)
    .where(_listed(callback_endpoints.c.code, "codes", True), callback_endpoints.c.failing_since.is_not(None))
    .values(failing_since=None)
)
_GONE = _twin(
    lambda sqlite: (
        update(callback_endpoints)
        .where(_listed(callback_endpoints.c.code, "codes", sqlite), callback_endpoints.c.state == "active")
        .values(state="disabled", state_reason="o destino respondeu HTTP 410 (Gone)")
    )
)
_FAILING = _twin(
    lambda sqlite: (
        update(callback_endpoints)
        .where(
            _listed(callback_endpoints.c.code, "codes", sqlite), callback_endpoints.c.failing_since.is_(None)
        )
        .values(failing_since=bindparam("now"))
    )
)
_STALE = _twin(
    lambda sqlite: select(callback_endpoints.c.code).where(
        _listed(callback_endpoints.c.code, "codes", sqlite),
        callback_endpoints.c.state == "active",
        callback_endpoints.c.failing_since <= bindparam("cutoff"),
    )
)
_PAUSE = _twin(
    lambda sqlite: (
        update(callback_endpoints)
        .where(_listed(callback_endpoints.c.code, "codes", sqlite))
        .values(state="paused", state_reason=bindparam("reason"))
    )
)
# The same batch writes as single PostgreSQL statements over arrays (see ``_batch``), a step's attempt log
# and result update in ONE statement (the log's insert as a data-modifying CTE): a round trip less per
# step. The result update is written so that the only cheap way to find its rows is the primary key,
# whatever the statistics say: ``id = ANY(ids)`` restricts the table to the batch, and the state check
# is a join condition against each row's expected state (``was``, always "pending"), not a constant.
# Written as ``d.state = 'pending'``, the stale statistics a burst leaves behind (pending: "18 rows")
# made the planner read every pending delivery through the due index, or the whole table, and
# hash-join it with the batch: 1.7 ms per step at 9k pending, growing with the backlog, for 32 key
# lookups.
_RECORD_PG = """
WITH logged AS (
    INSERT INTO delivery_attempts
        (delivery_id, attempted_at, status_code, latency_ms, response_snippet, error)
    SELECT * FROM unnest(%(b_id)b::integer[], %(b_at)b::timestamp[], %(b_status)b::integer[],
                         %(b_latency)b::integer[], %(b_snippet)b::text[], %(b_error)b::text[])
), healthy AS (
    UPDATE callback_endpoints SET failing_since = NULL
    WHERE code = ANY(%(b_healthy)b::text[]) AND failing_since IS NOT NULL
)
UPDATE deliveries AS d
SET state = v.state, attempts = d.attempts + 1, next_attempt_at = v.next_at, lease_owner = NULL,
    lease_expires_at = NULL, last_status_code = v.status, last_error = v.error,
    delivered_at = v.delivered_at
FROM unnest(%(b_id)b::integer[], %(b_state)b::text[], %(b_next)b::timestamp[], %(b_status)b::integer[],
            %(b_error)b::text[], %(b_delivered)b::timestamp[], %(b_was)b::text[])
     AS v(id, state, next_at, status, error, delivered_at, was)
WHERE d.id = ANY(%(b_id)b::integer[]) AND d.id = v.id AND d.state = v.was
"""
_RECORD_COLUMNS = (
    *("b_id", "b_at", "b_status", "b_latency", "b_snippet", "b_error"),  # the attempt log's
    *("b_state", "b_next", "b_delivered", "b_was"),  # the result's own
    "b_healthy",  # a delivered one's endpoint, whose failure mark it clears (else NULL)
)
_FAN_OUT_COLUMNS = ("event_id", "endpoint_code", "subject_id", "sequence", "next_attempt_at", "created_at")
_FAN_OUT = insert(deliveries).values(
    **{name: bindparam(name) for name in _FAN_OUT_COLUMNS}, state="pending", attempts=0
)


def _fan_out_in_one() -> Select[Any]:
    """PostgreSQL's fan-out as ONE statement: lock a batch of the outbox (as SQLite's walk), queue a
    delivery for each endpoint of the event's account and kind whose pin is none or the event's,
    unless removed (the rule :meth:`DeliveryRepository.fan_out` applies in Python on SQLite), and
    delete the batch from the outbox; returns the batch's size. One round trip where four were: the
    walk, the endpoints, the insert and the delete."""
    batch = _OUTBOX_WALK.cte("batch")
    endpoint = callback_endpoints.c
    accounts = cast(select(func.array_agg(batch.c.account_id)).scalar_subquery(), ARRAY(Integer))
    matching = and_(
        endpoint.account_id == any_(accounts),  # the batch's accounts' endpoints, by key (one array)
        endpoint.account_id == batch.c.account_id,
        endpoint.kind == case(_KIND_OF_SUBJECT, value=batch.c.subject_type),  # NULL (no match) otherwise
        or_(endpoint.pin_id.is_(None), endpoint.pin_id == batch.c.pin_id),
        endpoint.state != "removed",
    )
    now = bindparam("now", type_=UTCDateTime)
    due = case((endpoint.state == "active", now), else_=None)  # parked for a paused or disabled one
    queued = insert(deliveries).from_select(
        [
            "event_id",
            "endpoint_code",
            "subject_id",
            "sequence",
            "state",
            "attempts",
            "next_attempt_at",
            "created_at",
        ],
        select(
            batch.c.event_id,
            endpoint.code,
            batch.c.subject_id,
            batch.c.sequence,
            literal("pending"),
            literal(0),
            due,
            now,
        )
        .select_from(batch.join(callback_endpoints, matching))
        .order_by(batch.c.id),  # queued in outbox order, as SQLite's
    )
    fanned = delete(outbox).where(outbox.c.id.in_(select(batch.c.id)))
    return select(func.count()).select_from(batch).add_cte(queued.cte("queued"), fanned.cte("fanned"))


_FAN_OUT_PG = _fan_out_in_one()
_CLAIMED_ENDPOINT = (
    callback_endpoints.c.code,
    callback_endpoints.c.url,
    callback_endpoints.c.secret,
    callback_endpoints.c.previous_secret,
    callback_endpoints.c.previous_secret_expires_at,
)
_CLAIMED_EVENT = (
    events.c.id,
    events.c.event_type,
    events.c.subject_id,
    events.c.sequence,
    events.c.payload,
    events.c.created_at,
)
_EVENTS_SQLITE = select(*_CLAIMED_EVENT).where(_listed(events.c.id, "event_ids", True))
_ENDPOINTS_SQLITE = select(callback_endpoints.c.state, *_CLAIMED_ENDPOINT).where(
    _listed(callback_endpoints.c.code, "codes", True)
)
_PARK_SQLITE = update(deliveries).where(_listed(deliveries.c.id, "ids", True)).values(next_attempt_at=None)
# An endpoint's pending backlog parked (when it is paused or disabled), along the endpoint index.
_PARK_BACKLOG = _twin(
    lambda sqlite: (
        update(deliveries)
        .where(_listed(deliveries.c.endpoint_code, "codes", sqlite), deliveries.c.state == "pending")
        .values(next_attempt_at=None)
    )
)


def _lease_and_read_pg() -> Select[Any]:
    """PostgreSQL's claim after the walk, in ONE statement: lease the chosen deliveries whose endpoint
    is active, park the others, and read the leased ones' events and endpoints, all by key: one round
    trip where three were (the active endpoints, the lease, the events). Its columns are
    :class:`ClaimedDelivery`'s, in order.

    Each delivery's endpoint state is a correlated lookup by key, not a join: joined, PostgreSQL
    reached the chosen rows from the endpoint through the (endpoint, subject) index, every delivery
    the endpoint ever had (6 ms per claim at 10k)."""
    endpoint = callback_endpoints.c
    state = select(endpoint.state).where(endpoint.code == deliveries.c.endpoint_code).scalar_subquery()
    chosen = _listed(deliveries.c.id, "ids", False)
    leased = (
        update(deliveries)
        .where(chosen, state == "active")
        .values(lease_owner=bindparam("owner"), lease_expires_at=bindparam("until"))
        .returning(deliveries.c.id, deliveries.c.attempts, deliveries.c.event_id, deliveries.c.endpoint_code)
        .cte("leased")
    )
    parked = update(deliveries).where(chosen, state != "active").values(next_attempt_at=None)
    return (
        select(leased.c.id, leased.c.attempts, *_CLAIMED_EVENT, *_CLAIMED_ENDPOINT)
        .join_from(leased, events, events.c.id == leased.c.event_id)
        .join(callback_endpoints, endpoint.code == leased.c.endpoint_code)
        .add_cte(parked.cte("parked"))
    )


_LEASE_AND_READ_PG = _lease_and_read_pg()
# What a pipelined step (DeliveryRepository.step) sends through the driver.
_GIVE_BACK_DRIVER = DriverStatement(_GIVE_BACK.postgresql)
_FAN_OUT_DRIVER = DriverStatement(_FAN_OUT_PG)
_DUE_DRIVER = DriverStatement(_DUE.postgresql)


# The step's two records, made for every delivery, are NamedTuples: a frozen dataclass's __init__
# (object.__setattr__ per field) took 3.5 us for ClaimedDelivery's 13 fields, a NamedTuple 0.3.
class ClaimedDelivery(NamedTuple):
    id: int
    attempts: int
    event_id: str
    event_type: str
    subject_id: str
    sequence: int
    payload: dict[str, Any]
    event_created_at: datetime
    endpoint_code: str
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None


class AttemptResult(NamedTuple):
    """What one attempt did and what happens next (decided by the dispatcher's policy)."""

    delivery_id: int
    endpoint_code: str
    attempted_at: datetime
    outcome: str  # delivered | retry | failed | gone
    status_code: int | None
    latency_ms: int
    snippet: str | None
    error: str | None
    next_attempt_at: datetime | None


class StepRequest(NamedTuple):
    """One dispatcher step's database work: see :meth:`DeliveryRepository.step`."""

    now: datetime
    owner: str
    results: list[AttemptResult]
    given_back: list[int]
    pause_after: timedelta
    fan_out: int = 0  # new outbox events to fan out, at most
    claim: int = 0  # deliveries to claim, at most
    lease: timedelta = timedelta(seconds=60)
    room: Mapping[str, int] | None = None  # how many more each endpoint may take (see ``claim``)
    default_room: int | None = None


class StepOutcome(NamedTuple):
    fanned: int  # outbox events fanned out
    claims: list[ClaimedDelivery]
    paused: list[str]  # endpoints paused for failing too long, by this step's results


class QueueStats(NamedTuple):
    waiting: int  # pending and due (or leased, or waiting for a retry)
    oldest_waiting_since: datetime | None  # the creation time of the oldest of those
    parked: int  # pending for an endpoint that is paused or disabled


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    subject_id: str
    sequence: int
    endpoint_code: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int | None
    response_snippet: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    account_id: int | None = None
    since: datetime | None = None
    failed_only: bool = False
    endpoint_code: str | None = None
    event_id: str | None = None


# Whether a dispatcher step could do anything at all: an event to fan out, or a delivery due with no
# live lease. Two index probes (the outbox's key and the due index), no lock.
_WORK = select(
    or_(
        exists(select(outbox.c.id)),
        exists(select(deliveries.c.id).where(*_DUE_NOW)),
    )
)


# Events past retention, fanned out, whose deliveries are all finished (delivered, failed or gone):
# along the creation index, each checked on the outbox's subject index (an event is one subject's one
# sequence number) and the deliveries' event index.
_FINISHED_BEFORE = (
    select(events.c.id)
    .where(
        events.c.created_at < bindparam("cutoff"),
        ~exists(
            select(outbox.c.id).where(
                outbox.c.subject_id == events.c.subject_id, outbox.c.sequence == events.c.sequence
            )
        ),
        ~exists(
            select(deliveries.c.id).where(
                deliveries.c.event_id == events.c.id, deliveries.c.state == "pending"
            )
        ),
    )
    .order_by(events.c.created_at)
    .limit(bindparam("limit"))
)


class DeliveryRepository:
    def __init__(self, connection: Connection, *, postgresql: bool, keyed_session: bool = False) -> None:
        """``keyed_session``: the connection has :data:`KEYED_PLANS_SESSION` in force already."""
        self.connection = connection
        self.postgresql = postgresql
        self._planned = keyed_session  # the keyed-plan planner settings are in force (PostgreSQL)

    def has_work(self, now: datetime) -> bool:
        """Whether a step at ``now`` would fan out or claim anything (a read: an idle dispatcher
        checks this instead of taking the write lock every poll tick)."""
        return bool(self.connection.execute(_WORK, {"now": now}).scalar_one())

    # --- fan-out ---------------------------------------------------------------------------------

    def fan_out(self, now: datetime, limit: int) -> int:
        """Turn up to ``limit`` new outbox events into one pending delivery per matching endpoint
        (parked for an endpoint that is paused or disabled)."""
        if self.postgresql:
            self._plan_keyed()
            return int(self.connection.execute(_FAN_OUT_PG, {"limit": limit, "now": now}).scalar_one())
        batch = self._sqlite_execute(_OUTBOX_WALK, {"limit": limit}).all()
        if not batch:
            return 0
        accounts = list({row.account_id for row in batch})
        endpoints = self._sqlite_execute(_FAN_OUT_ENDPOINTS, {"accounts": accounts}).all()
        rows = [
            (
                event.event_id,
                endpoint.code,
                event.subject_id,
                event.sequence,
                _due_if_active(endpoint.state, now),
                now,
            )
            for event in batch
            for endpoint in endpoints
            if endpoint.account_id == event.account_id
            and endpoint.kind == _KIND_OF_SUBJECT.get(event.subject_type)
            and endpoint.pin_id in (None, event.pin_id)
        ]
        if rows:
            self._sqlite_executemany(_FAN_OUT, _FAN_OUT_COLUMNS, rows)
        self._sqlite_execute(_FANNED, {"ids": [event.id for event in batch]})
        return len(batch)

    # --- claiming --------------------------------------------------------------------------------

    def claim(
        self,
        now: datetime,
        owner: str,
        lease: timedelta,
        limit: int,
        room: Mapping[str, int] | None = None,
        default_room: int | None = None,
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` claimable deliveries, at most ``room[code]`` (else ``default_room``)
        per endpoint, so one endpoint with a deep backlog cannot take every slot. Chosen deliveries
        whose endpoint is no longer active are parked, not leased (see the module docstring)."""
        room = room or {}
        candidates = self._walk_index(_DUE, _due_values(now, room, limit, default_room))
        return self._lease(_within_room(candidates, limit, room, default_room), now, owner, lease)

    def _lease(self, chosen: list[Any], now: datetime, owner: str, lease: timedelta) -> list[ClaimedDelivery]:
        if not chosen:
            return []
        lease_values = {"ids": [row.id for row in chosen], "owner": owner, "until": now + lease}
        if not self.postgresql:
            return self._lease_sqlite(chosen, lease_values)
        claims = [ClaimedDelivery(*row) for row in self.connection.execute(_LEASE_AND_READ_PG, lease_values)]
        order = {row.id: position for position, row in enumerate(chosen)}
        return sorted(claims, key=lambda claim: order[claim.id])  # due order, as the walk found them

    # --- the dispatcher's step --------------------------------------------------------------------

    def step(self, request: StepRequest) -> StepOutcome:
        """Record the results (and the endpoints' health), hand back, fan out and claim, in that
        order, in the caller's transaction.

        On PostgreSQL, a step with no failure to track (the common one) sends everything up to the
        claim's walk in one pipeline (:mod:`ramal.store.pipeline`), so with the lease and the commit
        it costs three round trips where it cost six. The connection must have the keyed plans in
        force for its session (``keyed_session``): ``SET LOCAL`` cannot go in a pipeline.
        """
        if self.postgresql and self._planned and all(r.outcome == "delivered" for r in request.results):
            return self._step_pipelined(request)
        paused = self.record_with_health(request.results, request.now, request.pause_after)
        self.give_back(request.given_back, request.owner)
        fanned = self.fan_out(request.now, request.fan_out) if request.fan_out else 0
        claims = (
            self.claim(
                request.now, request.owner, request.lease, request.claim, request.room, request.default_room
            )
            if request.claim > 0
            else []
        )
        return StepOutcome(fanned, claims, paused)

    def _step_pipelined(self, request: StepRequest) -> StepOutcome:
        room = request.room or {}
        fanning = walking = None
        with pipeline(self.connection) as batch:
            if request.results:
                batch.send(_RECORD_PG, _arrays(_RECORD_COLUMNS, _record_rows(request.results)))
            if request.given_back:
                batch.send(_GIVE_BACK_DRIVER, {"ids": request.given_back, "owner": request.owner})
            if request.fan_out:
                fanning = batch.send(_FAN_OUT_DRIVER, {"limit": request.fan_out, "now": request.now})
            if request.claim > 0:
                walking = batch.send(
                    _DUE_DRIVER, _due_values(request.now, room, request.claim, request.default_room)
                )
        fanned = (fanning.fetchone() or (0,))[0] if fanning is not None else 0
        due = walking.fetchall() if walking is not None else []
        chosen = _within_room(due, request.claim, room, request.default_room)
        return StepOutcome(fanned, self._lease(chosen, request.now, request.owner, request.lease), [])

    def _lease_sqlite(self, chosen: list[Any], lease_values: dict[str, Any]) -> list[ClaimedDelivery]:
        """SQLite's half of :func:`_lease_and_read_pg`, a statement at a time: the chosen deliveries'
        endpoints by key, the active ones' deliveries leased and the others' parked, then the events.
        Claims come back in the walk's (due) order."""
        codes = list({row.endpoint_code for row in chosen})
        endpoints = {
            code: (code, url, secret, previous, None if until is None else _from_sqlite(until))
            for state, code, url, secret, previous, until in self._sqlite_execute(
                _ENDPOINTS_SQLITE, {"codes": codes}
            )
            if state == "active"
        }
        leased = [row for row in chosen if row.endpoint_code in endpoints]
        parked = [row.id for row in chosen if row.endpoint_code not in endpoints]
        if parked:
            self._sqlite_execute(_PARK_SQLITE, {"ids": parked})
        if not leased:
            return []
        self._sqlite_execute(_LEASE_SQLITE, {**lease_values, "ids": [row.id for row in leased]})
        found = {
            event_id: (
                event_id,
                event_type,
                subject_id,
                sequence,
                orjson.loads(payload),
                _from_sqlite(created),
            )
            for event_id, event_type, subject_id, sequence, payload, created in self._sqlite_execute(
                _EVENTS_SQLITE, {"event_ids": list({row.event_id for row in leased})}
            )
        }
        return [
            ClaimedDelivery(row.id, row.attempts, *found[row.event_id], *endpoints[row.endpoint_code])
            for row in leased
        ]

    def _run(self, statement: _Twin, values: dict[str, Any]) -> CursorResult[*tuple[Any, ...]]:
        """Execute a hot-path statement, its list values each as one parameter (:func:`_listed`)."""
        if self.postgresql:
            return self.connection.execute(statement.postgresql, values)
        return self._sqlite_execute(statement.sqlite, values)

    def _sqlite_execute(
        self, statement: Executable, values: dict[str, Any]
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run a statement on SQLite straight through the driver, compiled once like the batch writes
        (:class:`_SqliteBatch`): rows come back as stored (text datetimes and JSON). Through
        SQLAlchemy, compiling the expanding lists and processing each value was about half of a
        claim's cost."""
        compiled = _sqlite_batch(statement, tuple(values))
        row = tuple(_json(value) if isinstance(value, list) else value for value in values.values())
        [parameters] = compiled.parameters([row])
        return self.connection.exec_driver_sql(compiled.sql, parameters)

    def _walk_index(self, statement: _Twin, params: dict[str, Any]) -> Sequence[Any]:
        """Run a ``ORDER BY <indexed> LIMIT n FOR UPDATE SKIP LOCKED`` read as an index walk."""
        self._plan_keyed()
        return self._run(statement, params).all()

    def _plan_keyed(self) -> None:
        """Put the :data:`_KEYED_PLANS` settings in force on PostgreSQL, once per transaction.

        ``SET LOCAL`` lasts to the end of the transaction, and a repository lives for one, so they
        are set before its first walk or batch write and left in force: one round trip per step.
        """
        if self.postgresql and not self._planned:
            self.connection.exec_driver_sql(_KEYED_PLANS)
            self._planned = True

    # --- results ---------------------------------------------------------------------------------

    def record(self, results: Iterable[AttemptResult]) -> None:
        """Log every attempt and move each delivery on; never reverts one already delivered. An
        endpoint that took a delivery is no longer failing."""
        results = list(results)
        if not results:
            return
        self._batch((_RECORD_ATTEMPT, _RECORD_RESULT), _RECORD_PG, _RECORD_COLUMNS, _record_rows(results))
        healthy = {r.endpoint_code for r in results if r.outcome == "delivered"}
        if healthy and not self.postgresql:
            self._sqlite_execute(_HEALTHY_SQLITE, {"codes": list(healthy)})

    def _batch(
        self,
        statements: tuple[Executable, ...],
        postgresql_sql: str,
        names: tuple[str, ...],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """Run the statements for a batch of rows (each row holds every statement's ``names``),
        straight through the driver, no per-row work in SQLAlchemy (its bind processing of each value
        was most of the fan-out's cost).

        SQLite: each statement compiled once (:class:`_SqliteBatch`) and stepped in C by the driver's
        executemany. PostgreSQL: ONE statement over ``unnest()``-ed arrays, because psycopg's
        executemany sends one statement per row, and with ``plan_cache_mode = force_custom_plan``
        (database.py) PostgreSQL plans every one of them. The arrays go in binary (``%(name)b``):
        psycopg's text dumping of a record batch's ten 32-value arrays took 360 us, binary 130 us.
        Datetimes go as naive UTC, the way :class:`UTCDateTime` stores them.
        """
        if not self.postgresql:
            for statement in statements:
                self._sqlite_executemany(statement, names, rows)
            return
        self._plan_keyed()
        self.connection.exec_driver_sql(postgresql_sql, _arrays(names, rows))

    def _sqlite_executemany(
        self, statement: Executable, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        batch = _sqlite_batch(statement, names)
        self.connection.exec_driver_sql(batch.sql, batch.parameters(rows))

    def give_back(self, ids: Collection[int], owner: str) -> None:
        """End this owner's lease on deliveries it claimed but will not attempt (others may claim them)."""
        if ids:
            self._run(_GIVE_BACK, {"ids": list(ids), "owner": owner})

    def record_with_health(
        self, results: list[AttemptResult], now: datetime, pause_after: timedelta
    ) -> list[str]:
        """:meth:`record`, then :meth:`update_health` for the failures among them; returns the codes
        of the endpoints paused just now."""
        if not results:
            return []
        self.record(results)
        return self.update_health(
            failed={r.endpoint_code for r in results if r.outcome in ("retry", "failed")},
            gone={r.endpoint_code for r in results if r.outcome == "gone"},
            now=now,
            pause_after=pause_after,
        )

    def update_health(
        self,
        failed: Collection[str],
        gone: Collection[str],
        now: datetime,
        pause_after: timedelta,
    ) -> list[str]:
        """Track how long each endpoint has been failing (the end of a failure is recorded with the
        delivery that ended it: :meth:`record`); returns the codes paused just now."""
        if gone:
            self._run(_GONE, {"codes": list(gone)})
            self._run(_PARK_BACKLOG, {"codes": list(gone)})
        if not failed:
            return []
        self._run(_FAILING, {"codes": list(failed), "now": now})
        cutoff = now - pause_after
        paused = list(self._run(_STALE, {"codes": list(failed), "cutoff": cutoff}).scalars())
        if paused:
            reason = f"falhando desde antes de {cutoff:%Y-%m-%d %H:%M} UTC"
            self._run(_PAUSE, {"codes": paused, "reason": reason})
            self._run(_PARK_BACKLOG, {"codes": paused})
        return paused

    # --- visibility and control --------------------------------------------------------------------

    def find(self, where: DeliveryFilter, limit: int) -> list[DeliveryView]:
        query = (
            select(
                deliveries.c.id,
                deliveries.c.event_id,
                events.c.event_type,
                deliveries.c.subject_id,
                deliveries.c.sequence,
                deliveries.c.endpoint_code,
                deliveries.c.state,
                deliveries.c.attempts,
                deliveries.c.next_attempt_at,
                deliveries.c.last_status_code,
                deliveries.c.last_error,
                deliveries.c.created_at,
                deliveries.c.delivered_at,
            )
            .select_from(deliveries.join(events, events.c.id == deliveries.c.event_id))
            .where(*self._conditions(where))
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(limit)
        )
        return [DeliveryView(**row._asdict()) for row in self.connection.execute(query)]

    def attempts_of(self, delivery_ids: Collection[int]) -> dict[int, list[AttemptView]]:
        found: dict[int, list[AttemptView]] = {delivery_id: [] for delivery_id in delivery_ids}
        if not delivery_ids:
            return found
        rows = self.connection.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(list(delivery_ids)))
            .order_by(delivery_attempts.c.attempted_at, delivery_attempts.c.id)
        )
        for row in rows:
            found[row.delivery_id].append(
                AttemptView(
                    row.attempted_at, row.status_code, row.latency_ms, row.response_snippet, row.error
                )
            )
        return found

    def replay(self, where: DeliveryFilter, now: datetime) -> int:
        """Send matching deliveries again (whatever their state); their attempt log is kept."""
        ids = (
            select(deliveries.c.id)
            .select_from(deliveries.join(events, events.c.id == deliveries.c.event_id))
            .where(*self._conditions(where))
        )
        result = self.connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_expires_at=None,
                delivered_at=None,
            )
        )
        return result.rowcount

    def purge_finished(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` events created before ``cutoff``, oldest first, with their deliveries
        and attempt log, once nothing of them is pending: an event still owed to an endpoint (a
        paused one's backlog, a retry) is kept however old it is."""
        doomed = list(self.connection.execute(_FINISHED_BEFORE, {"cutoff": cutoff, "limit": limit}).scalars())
        if not doomed:
            return 0
        of_doomed = deliveries.c.event_id.in_(doomed)
        self.connection.execute(
            delete(delivery_attempts).where(
                delivery_attempts.c.delivery_id.in_(select(deliveries.c.id).where(of_doomed))
            )
        )
        self.connection.execute(delete(deliveries).where(of_doomed))
        self.connection.execute(delete(events).where(events.c.id.in_(doomed)))
        return len(doomed)

    def queue_stats(self) -> QueueStats:
        """The queue for the metrics: what waits to be sent, apart from what is parked (a paused
        endpoint's backlog is owed, not late: counted in the oldest age, it would keep an alert on
        for as long as the endpoint stays paused)."""
        parked = deliveries.c.next_attempt_at.is_(None)
        row = self.connection.execute(
            select(
                func.count().filter(~parked),
                func.min(deliveries.c.created_at).filter(~parked),
                func.count().filter(parked),
            ).where(deliveries.c.state == "pending")
        ).one()
        return QueueStats(int(row[0]), row[1], int(row[2]))

    def _conditions(self, where: DeliveryFilter) -> list[Any]:
        conditions: list[Any] = []
        if where.account_id is not None:
            conditions.append(events.c.account_id == where.account_id)
        if where.since is not None:
            conditions.append(deliveries.c.created_at >= where.since)
        if where.failed_only:
            conditions.append(
                or_(
                    deliveries.c.state == "failed",
                    and_(deliveries.c.state == "pending", deliveries.c.attempts > 0),
                )
            )
        if where.endpoint_code is not None:
            conditions.append(deliveries.c.endpoint_code == where.endpoint_code)
        if where.event_id is not None:
            conditions.append(deliveries.c.event_id == where.event_id)
        return conditions


class _SqliteBatch:
    """A statement compiled to SQLite's SQL, with each ``?`` mapped to a row column or to the
    statement's own constant: a batch write's rows, or the one row of a hot-path read's values. Built
    once per statement (they are module constants). Only the columns bound as times (or untyped) go
    through the datetime conversion: calling it for every value was most of a record batch's
    Python-side cost."""

    def __init__(self, statement: Executable, names: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=sqlite.dialect())  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        constants = compiled.params
        self._slots = [
            (names.index(name), None, isinstance(compiled.binds[name].type, (UTCDateTime, NullType)))
            if name in names
            else (None, constants[name], False)
            for name in compiled.positiontup or ()
        ]

    def parameters(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        slots, stored = self._slots, _per_batch(_sqlite_text)
        return [
            tuple(
                [
                    constant if index is None else stored(row[index]) if timed else row[index]
                    for index, constant, timed in slots
                ]
            )
            for row in rows
        ]


@functools.cache
def _sqlite_batch(statement: Executable, names: tuple[str, ...]) -> _SqliteBatch:
    return _SqliteBatch(statement, names)


def _due_values(
    now: datetime, room: Mapping[str, int], limit: int, default_room: int | None
) -> dict[str, Any]:
    """The due walk's parameters (:data:`_DUE`: claimable deliveries in due order, locked on
    PostgreSQL against other workers): none of the endpoints without room, and no more than the
    room holds (:func:`_walk_limit`)."""
    full = [code for code, left in room.items() if left <= 0]
    open_rooms = [left for left in room.values() if left > 0]
    return {
        "now": now,
        "full": full,
        "limit": limit,
        "known": list(room),
        "known_room": sum(open_rooms),
        "known_open": len(open_rooms),
        "default_room": _default_room(default_room, limit),
    }


def _default_room(default_room: int | None, limit: int) -> int:
    """The room of an endpoint this process holds nothing of: with no default, the claim's limit."""
    return limit if default_room is None else default_room


def _record_rows(results: list[AttemptResult]) -> list[tuple[Any, ...]]:
    """Each result as the values of :data:`_RECORD_COLUMNS`."""
    return [
        (
            r.delivery_id,
            r.attempted_at,
            r.status_code,
            r.latency_ms,
            r.snippet,
            r.error,
            "pending" if r.outcome in ("retry", "gone") else r.outcome,
            r.next_attempt_at,
            r.attempted_at if r.outcome == "delivered" else None,
            "pending",
            r.endpoint_code if r.outcome == "delivered" else None,
        )
        for r in results
    ]


def _arrays(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """A batch's rows as one array per column, for PostgreSQL's ``unnest()`` statements."""
    stored = _per_batch(stored_utc)
    columns = zip(*rows, strict=True)
    return {name: [stored(value) for value in column] for name, column in zip(names, columns, strict=True)}


def _per_batch(convert: Callable[[datetime], Any]) -> Callable[[Any], Any]:
    """``convert`` for the values of one batch: datetimes converted once per distinct instant (a
    fan-out's rows all carry their step's ``now``; a delivered result's attempt time is also its
    delivery time), anything else as it is."""
    done: dict[datetime, Any] = {}

    def stored(value: Any) -> Any:
        if not isinstance(value, datetime):
            return value
        converted = done.get(value)
        if converted is None:
            converted = done[value] = convert(value)
        return converted

    return stored


def _sqlite_text(value: datetime) -> str:
    """What SQLAlchemy's SQLite ``DATETIME`` stores for a :class:`UTCDateTime`: naive UTC text with
    six fractional digits, so that text order is time order."""
    return stored_utc(value).isoformat(" ", "microseconds")


def _due_if_active(state: str, now: datetime) -> datetime | None:
    """A new delivery's due time: now, or none (parked) if its endpoint is paused or disabled."""
    return now if state == "active" else None


def _json(values: list[Any]) -> str:
    return orjson.dumps(values).decode()


def _from_sqlite(value: str) -> datetime:
    """The aware UTC datetime a :class:`UTCDateTime` reads from SQLite's text (:func:`_sqlite_text`)."""
    return loaded_utc(datetime.fromisoformat(value))


def _within_room(
    candidates: Sequence[Any], limit: int, room: Mapping[str, int], default_room: int | None
) -> list[Any]:
    left = dict(room)
    default = _default_room(default_room, limit)
    chosen: list[Any] = []
    for candidate in candidates:
        code = candidate.endpoint_code
        free = left.get(code, default)
        if free <= 0:
            continue
        left[code] = free - 1
        chosen.append(candidate)
        if len(chosen) == limit:
            break
    return chosen
