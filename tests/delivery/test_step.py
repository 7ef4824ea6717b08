"""``DeliveryRepository.step``: a dispatcher step's work in one call, the same whether it runs
statement by statement or, on PostgreSQL, pipelined (one round trip up to the lease)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from ramal.container import Container
from ramal.store.repositories.deliveries import (
    KEYED_PLANS_SESSION,
    AttemptResult,
    DeliveryFilter,
    DeliveryRepository,
    DeliveryView,
    StepRequest,
)
from tests.conftest import Account
from tests.delivery.helpers import add_events, register

LEASE = timedelta(seconds=60)


@pytest.mark.parametrize("keyed_session", [False, True], ids=["statement-by-statement", "pipelined"])
def test_a_step_records_hands_back_fans_out_and_claims_in_order(
    container: Container, account: Account, keyed_session: bool
) -> None:
    database = container.database
    if keyed_session and not database.is_postgresql:
        pytest.skip("the pipeline is PostgreSQL's")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [("call-1", 1, "ringing"), ("call-1", 2, "answered"), ("call-2", 1, "x")])
    now = container.clock.now()

    def step(request: StepRequest) -> tuple[int, list[tuple[str, int]], list[str]]:
        with database.write() as connection:
            if keyed_session:
                connection.exec_driver_sql(KEYED_PLANS_SESSION.replace("SET", "SET LOCAL"))
            postgresql = database.is_postgresql
            repo = DeliveryRepository(connection, postgresql=postgresql, keyed_session=keyed_session)
            done = repo.step(request)
        return done.fanned, [(c.subject_id, c.sequence) for c in done.claims], done.paused

    # Fanned out and claimed in the same step; call-1's second event waits for its first.
    fanned, claimed, _ = step(StepRequest(now, "w", [], [], LEASE, fan_out=10, claim=10, lease=LEASE))
    assert (fanned, sorted(claimed)) == (3, [("call-1", 1), ("call-2", 1)])
    views = {(v.subject_id, v.sequence): v for v in deliveries(container)}
    first, other = views[("call-1", 1)], views[("call-2", 1)]
    delivered = AttemptResult(first.id, first.endpoint_code, now, "delivered", 200, 3, "ok", None, None)
    # One delivered (its successor becomes claimable in the same step), one handed back by its owner.
    fanned, claimed, paused = step(
        StepRequest(now, "w", [delivered], [other.id], LEASE, fan_out=10, claim=10, lease=LEASE)
    )
    assert (fanned, sorted(claimed), paused) == (0, [("call-1", 2), ("call-2", 1)], [])
    logged = {v.id: v for v in deliveries(container)}
    with database.read() as connection:
        attempts = connection.execute(text("SELECT count(*) FROM delivery_attempts")).scalar_one()
    assert (logged[first.id].state, logged[first.id].last_status_code, attempts) == ("delivered", 200, 1)


def deliveries(container: Container) -> list[DeliveryView]:
    with container.database.read() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        return repo.find(DeliveryFilter(), 10)


def test_a_pipelined_step_raises_the_databases_refusal_as_sqlalchemys(
    container: Container, account: Account
) -> None:
    """The dispatcher tells a refused value (written alone, then dropped) from a database that is
    down by SQLAlchemy's exception classes; a pipeline's errors are the driver's own otherwise."""
    from sqlalchemy.exc import DataError

    if not container.database.is_postgresql:
        pytest.skip("the pipeline is PostgreSQL's")
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [("call-1", 1, "answered")])
    now = container.clock.now()
    refused = AttemptResult(1, "code", now, "delivered", 200, 1, "nul \x00 byte", None, None)
    request = StepRequest(now, "w", [refused], [], LEASE, fan_out=10, claim=10, lease=LEASE)
    with container.database.write() as connection:
        connection.exec_driver_sql(KEYED_PLANS_SESSION.replace("SET", "SET LOCAL"))
        repo = DeliveryRepository(connection, postgresql=True, keyed_session=True)
        with pytest.raises(DataError):
            repo.step(request)
        connection.rollback()
