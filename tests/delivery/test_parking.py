"""Deliveries of an endpoint that is not active are parked (pending, no due time), so a paused
endpoint's backlog, however deep, is never walked by the claim and never wakes an idle dispatcher,
and resuming the endpoint makes all of it due again."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.delivery.metrics import QueueCollector
from ramal.store.repositories.callbacks import CallbackRepository
from ramal.store.repositories.deliveries import DeliveryRepository
from ramal.store.tables import deliveries
from tests.conftest import Account
from tests.delivery.helpers import add_events, register

LEASE = timedelta(seconds=60)


def _due_times(container: Container, code: str) -> list[datetime | None]:
    with container.database.read() as connection:
        query = select(deliveries.c.next_attempt_at).where(
            deliveries.c.endpoint_code == code, deliveries.c.state == "pending"
        )
        return list(connection.execute(query).scalars())


def _repo(connection: object, container: Container) -> DeliveryRepository:
    return DeliveryRepository(connection, postgresql=container.database.is_postgresql)  # type: ignore[arg-type]


def _two_endpoints_with_a_backlog(container: Container, account: Account, calls: int) -> tuple[str, str]:
    paused = register(container, account, "http://127.0.0.1:9/paused")
    healthy = register(container, account, "http://127.0.0.1:9/healthy")
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(calls)])
    with container.database.write() as connection:
        assert _repo(connection, container).fan_out(container.clock.now(), 500) == calls
    return paused, healthy


def test_pausing_parks_the_backlog_and_claims_pass_it_by(container: Container, account: Account) -> None:
    paused, healthy = _two_endpoints_with_a_backlog(container, account, 30)
    now = container.clock.now()
    with container.database.write() as connection:
        repo = _repo(connection, container)
        just_paused = repo.update_health({paused}, set(), now, pause_after=timedelta(0))
    assert just_paused == [paused]
    assert _due_times(container, paused) == [None] * 30  # kept, and parked
    with container.database.write() as connection:
        repo = _repo(connection, container)
        claimed = repo.claim(now, "w", LEASE, 100)
        assert {claim.endpoint_code for claim in claimed} == {healthy}
        assert len(claimed) == 30
        repo.record([])
    with container.database.read() as connection:
        # the healthy endpoint's work is leased: only the parked backlog is left, and it is no work
        assert not _repo(connection, container).has_work(now + LEASE / 2)


def test_new_events_for_a_paused_endpoint_are_queued_parked_until_resumed(
    container: Container, account: Account
) -> None:
    paused, _ = _two_endpoints_with_a_backlog(container, account, 0)
    with container.database.write() as connection:
        CallbackRepository(connection).set_state(paused, "paused", "test")
    add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    now = container.clock.now()
    with container.database.write() as connection:
        assert _repo(connection, container).fan_out(now, 500) == 2
    assert _due_times(container, paused) == [None, None]
    assert container.callbacks.resume(paused) == 2
    assert _due_times(container, paused) == [now, now]
    with container.database.write() as connection:
        claimed = _repo(connection, container).claim(now, "w", LEASE, 100)
    assert sorted(claim.endpoint_code for claim in claimed).count(paused) == 2


def test_a_claim_parks_what_it_meets_of_an_endpoint_no_longer_active(
    container: Container, account: Account
) -> None:
    """The safety net: an endpoint paused without its backlog parked (a pause racing a fan-out or a
    claim, a replay of a paused endpoint's events) is parked by the first claim that meets it."""
    paused, healthy = _two_endpoints_with_a_backlog(container, account, 5)
    with container.database.write() as connection:
        CallbackRepository(connection).set_state(paused, "paused", "test")  # backlog left due
    now = container.clock.now()
    with container.database.write() as connection:
        claimed = _repo(connection, container).claim(now, "w", LEASE, 100)
    assert [claim.endpoint_code for claim in claimed] == [healthy] * 5
    assert _due_times(container, paused) == [None] * 5


def test_the_queue_gauges_tell_parked_deliveries_from_waiting_ones(
    container: Container, account: Account, clock: ManualClock
) -> None:
    """A paused endpoint's backlog is owed, not late: it has a gauge of its own, and neither the queue
    depth nor the oldest age (what an alert watches) counts it."""
    paused, _ = _two_endpoints_with_a_backlog(container, account, 4)
    clock.advance(hours=2)
    add_events(container, account, [("call-late", 1, "answered")])
    now = container.clock.now()
    with container.database.write() as connection:
        repo = _repo(connection, container)
        repo.fan_out(now, 500)
        repo.update_health({paused}, set(), now, pause_after=timedelta(0))
    collector = QueueCollector()
    collector.source = (container.database, container.clock)
    gauges = {family.name: family.samples[0].value for family in collector.collect()}
    assert gauges["ramal_callback_parked_deliveries"] == 5  # the paused endpoint's 4 + 1
    assert gauges["ramal_callback_queue_depth"] == 5  # the other endpoint's, still waiting
    assert gauges["ramal_callback_oldest_pending_seconds"] == 2 * 3600
