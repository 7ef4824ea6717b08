"""The step's query plans (mostly PostgreSQL's): the claim walks the due index and stops at the LIMIT, and a
batch of results updates its rows by primary key, whatever the statistics.

A burst of events leaves PostgreSQL's statistics saying the deliveries table is nearly empty (autovacuum
analyzes it up to a minute later); with a join in the claim it then chose a bitmap scan of the whole
backlog plus a sort (60 ms per claim at 10k pending). This checks the plan itself, not a timing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from ramal.container import Container
from ramal.store.repositories.deliveries import AttemptResult, DeliveryFilter, DeliveryRepository
from tests.conftest import Account
from tests.delivery.helpers import add_events, register


def test_claim_walks_the_due_index_on_a_fresh_backlog(container: Container, account: Account) -> None:
    if not container.database.is_postgresql:
        pytest.skip("SQLite serialises claims with BEGIN IMMEDIATE; its plan has no SKIP LOCKED walk")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(10000)])
    plans: list[str] = []
    lease_plans: list[str] = []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FOR UPDATE" in statement and "FROM deliveries" in statement:
            plans.append(_plan(cursor, statement, parameters))
        if "leased AS" in statement:
            lease_plans.append(_plan(cursor, statement, parameters))

    now = container.clock.now()
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=True)
        while repo.fan_out(now, 500):
            pass
    event.listen(container.database.engine, "after_cursor_execute", explain)
    try:
        with container.database.write() as connection:
            claimed = DeliveryRepository(connection, postgresql=True).claim(now, "w", timedelta(60), 10)
    finally:
        event.remove(container.database.engine, "after_cursor_execute", explain)
    assert len(claimed) == 10
    [plan] = plans
    assert "Index Scan using ix_deliveries_due" in plan
    assert "Sort" not in plan
    assert "Bitmap" not in plan
    [lease_plan] = lease_plans  # the lease (or parking) and the endpoints' and events' reads, by key
    assert "Index Scan using pk_deliveries" in lease_plan
    assert "Index Scan using pk_callback_endpoints" in lease_plan
    assert "Index Scan using pk_events" in lease_plan
    assert "Seq Scan" not in lease_plan
    assert "Bitmap" not in lease_plan


def test_fan_out_walks_the_pending_index_on_a_fresh_outbox(container: Container, account: Account) -> None:
    """PostgreSQL's one-statement fan-out: the batch along the outbox's key, the endpoints and the
    delete by key, never a scan; the events table is not read at all."""
    if not container.database.is_postgresql:
        pytest.skip("SQLite fans out a statement at a time")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(5000)])
    plans: list[str] = []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("WITH batch"):
            plans.append(_plan(cursor, statement, parameters))

    event.listen(container.database.engine, "after_cursor_execute", explain)
    try:
        with container.database.write() as connection:
            assert DeliveryRepository(connection, postgresql=True).fan_out(container.clock.now(), 500) == 500
    finally:
        event.remove(container.database.engine, "after_cursor_execute", explain)
    [plan] = plans
    assert "Index Scan using pk_outbox on outbox " in plan  # the walk
    assert "Index Scan using pk_outbox on outbox outbox_1" in plan  # the delete
    assert "events" not in plan
    assert "Index Scan using ix_callback_endpoints_account_id" in plan
    assert "Index Cond: (account_id = ANY" in plan  # only the batch's accounts' endpoints
    assert "Seq Scan" not in plan
    assert "Bitmap" not in plan


def test_sqlite_step_walks_the_due_index_and_goes_by_key(container: Container, account: Account) -> None:
    """SQLite's step statements take their lists as one JSON array (``json_each``): the walk must
    still follow the due index (no sort), and the other reads and writes go by key."""
    if container.database.is_postgresql:
        pytest.skip("the JSON-array lists are SQLite's")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(200)])
    plans: dict[str, str] = {}
    kinds = (
        *("UPDATE deliveries", "DELETE FROM outbox", "FROM deliveries", "FROM events"),
        *("callback_endpoints.account_id IN", "callback_endpoints.code IN"),  # fan-out's, claim's
    )

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "json_each" in statement:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans[next(kind for kind in kinds if kind in statement)] = "\n".join(row[-1] for row in rows)

    now = container.clock.now()
    event.listen(container.database.engine, "after_cursor_execute", explain)
    try:
        with container.database.write() as connection:
            repo = DeliveryRepository(connection, postgresql=False)
            assert repo.fan_out(now, 500) == 200
            assert len(repo.claim(now, "w", timedelta(seconds=60), 10)) == 10
    finally:
        event.remove(container.database.engine, "after_cursor_execute", explain)
    assert "SEARCH deliveries USING INDEX ix_deliveries_due" in plans["FROM deliveries"]
    assert "TEMP B-TREE" not in plans["FROM deliveries"]  # no sort of the backlog
    assert "SEARCH deliveries USING INTEGER PRIMARY KEY" in plans["UPDATE deliveries"]  # the lease
    assert "SEARCH events USING INDEX sqlite_autoindex_events_1 (id=?)" in plans["FROM events"]
    assert "SEARCH outbox USING INTEGER PRIMARY KEY (rowid=?)" in plans["DELETE FROM outbox"]  # fanned
    fan_out_endpoints = plans["callback_endpoints.account_id IN"]
    assert "USING INDEX ix_callback_endpoints_account_id (account_id=?)" in fan_out_endpoints
    claimed_endpoints = plans["callback_endpoints.code IN"]
    assert "USING INDEX sqlite_autoindex_callback_endpoints_1 (code=?)" in claimed_endpoints


def _plan(cursor: Any, statement: str, parameters: Any) -> str:
    rows = cursor.connection.execute("EXPLAIN " + statement, parameters).fetchall()
    return "\n".join(row[0] for row in rows)


def test_results_update_their_rows_by_key_on_a_fresh_backlog(container: Container, account: Account) -> None:
    if not container.database.is_postgresql:
        pytest.skip("SQLite updates each result by its rowid (executemany)")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(5000)])
    now = container.clock.now()
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=True)
        while repo.fan_out(now, 500):
            pass
        claimed = repo.claim(now, "w", timedelta(seconds=60), 32)
    results = [
        AttemptResult(c.id, c.endpoint_code, now, "delivered", 200, 1, "ok", None, None) for c in claimed
    ]
    plans: list[str] = []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "UPDATE deliveries AS d" in statement:
            plans.append(_plan(cursor, statement, parameters))

    event.listen(container.database.engine, "after_cursor_execute", explain)
    try:
        with container.database.write() as connection:
            DeliveryRepository(connection, postgresql=True).record(results)
    finally:
        event.remove(container.database.engine, "after_cursor_execute", explain)
    [plan] = plans
    assert "Index Scan using pk_deliveries" in plan  # one lookup per result ...
    assert "ix_deliveries_due" not in plan  # ... never a read of the whole pending backlog
    with container.database.read() as connection:
        views = DeliveryRepository(connection, postgresql=True).find(DeliveryFilter(), 10_000)
    assert sum(view.state == "delivered" for view in views) == 32


def test_a_later_event_waits_while_another_worker_fans_out_the_earlier_one(
    container: Container, account: Account
) -> None:
    if not container.database.is_postgresql:
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises fan-outs: no concurrent batches")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [("call-1", 1, "ringing"), ("call-1", 2, "answered")])
    now, lease = container.clock.now(), timedelta(seconds=60)
    with container.database.write() as first:
        assert DeliveryRepository(first, postgresql=True).fan_out(now, 1) == 1  # event 1, not committed
        with container.database.write() as second:
            other = DeliveryRepository(second, postgresql=True)
            assert other.fan_out(now, 10) == 1  # event 2: event 1 is locked by the first batch
            assert other.claim(now, "other", lease, 10) == []  # event 2 must wait for event 1
    with container.database.write() as connection:
        [claimed] = DeliveryRepository(connection, postgresql=True).claim(now, "w", lease, 10)
    assert claimed.sequence == 1
