"""How long an endpoint has been failing: set by its first failed attempt, cleared by a delivery to
it (on PostgreSQL inside the statement that records the results), untouched by other endpoints'."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ramal.container import Container
from ramal.store.repositories.deliveries import AttemptResult, DeliveryRepository
from ramal.store.tables import callback_endpoints
from tests.conftest import Account
from tests.delivery.helpers import add_events, register


def _failing_since(container: Container) -> dict[str, datetime | None]:
    with container.database.read() as connection:
        rows = connection.execute(select(callback_endpoints.c.code, callback_endpoints.c.failing_since))
        return {row.code: row.failing_since for row in rows}


def _result(delivery_id: int, code: str, at: datetime, outcome: str) -> AttemptResult:
    status, error = (200, None) if outcome == "delivered" else (500, "HTTP 500")
    return AttemptResult(delivery_id, code, at, outcome, status, 5, "", error, None)


def test_a_delivery_ends_its_endpoints_failure_only(container: Container, account: Account) -> None:
    flaky = register(container, account, "http://127.0.0.1:9/flaky")
    other = register(container, account, "http://127.0.0.1:9/other")
    add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    now = container.clock.now()
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        repo.fan_out(now, 10)
        claimed = {(c.endpoint_code, c.subject_id): c.id for c in repo.claim(now, "w", timedelta(60), 10)}
        results = [_result(claimed[flaky, "call-1"], flaky, now, "retry")]
        results += [_result(claimed[other, "call-1"], other, now, "retry")]
        repo.record(results)
        repo.update_health({flaky, other}, set(), now, timedelta(hours=72))
    assert _failing_since(container) == {flaky: now, other: now}
    later = now + timedelta(minutes=5)
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        repo.record([_result(claimed[flaky, "call-2"], flaky, later, "delivered")])
    assert _failing_since(container) == {flaky: None, other: now}
