"""The batch writes bypass SQLAlchemy's bind processing: what they store must be exactly what a
SQLAlchemy write stores, or text order (SQLite) would stop being time order."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select, text, update

from ramal.container import Container
from ramal.store.repositories.deliveries import AttemptResult, DeliveryRepository
from ramal.store.tables import deliveries, events
from tests.conftest import Account
from tests.delivery.helpers import add_events, register


def test_fan_out_and_record_store_what_sqlalchemy_stores(container: Container, account: Account) -> None:
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [("call-1", 1, "ringing"), ("call-2", 1, "ringing")])
    now = container.clock.now().replace(microsecond=0)  # the case a plain str() would get wrong
    retry_at = now + timedelta(seconds=30, microseconds=5)
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        assert repo.fan_out(now, 10) == 2
        [first, second] = connection.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars()
        repo.record([AttemptResult(first, "x", now, "retry", 500, 3, "no", "HTTP 500", retry_at)])
        # the reference: the same value written by SQLAlchemy, through UTCDateTime
        connection.execute(update(deliveries).where(deliveries.c.id == second).values(delivered_at=retry_at))
    with container.database.read() as connection:
        row = connection.execute(
            select(deliveries.c.next_attempt_at, deliveries.c.attempts, deliveries.c.state).where(
                deliveries.c.id == first
            )
        ).one()
        assert tuple(row) == (retry_at, 1, "pending")
        stored = text("SELECT next_attempt_at, created_at FROM deliveries WHERE id = :id")
        ours = connection.execute(stored, {"id": first}).one()
        reference = connection.execute(
            text("SELECT delivered_at FROM deliveries WHERE id = :id"), {"id": second}
        ).scalar_one()
        assert ours.next_attempt_at == reference
        if not container.database.is_postgresql:
            assert ours.created_at == f"{now:%Y-%m-%d %H:%M:%S}.000000"  # six digits, as SQLAlchemy


def test_a_claim_reads_its_events_as_sqlalchemy_reads_them(container: Container, account: Account) -> None:
    """SQLite's claim reads events straight through the driver and decodes them itself."""
    register(container, account, "http://127.0.0.1:9/hook")
    [event_id] = add_events(container, account, [("call-1", 1, "answered")])
    now = container.clock.now()
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        repo.fan_out(now, 10)
        [claimed] = repo.claim(now, "w", timedelta(seconds=60), 10)
    with container.database.read() as connection:
        stored = connection.execute(select(events).where(events.c.id == event_id)).one()
    assert (claimed.event_id, claimed.event_type, claimed.subject_id, claimed.sequence) == (
        stored.id,
        stored.event_type,
        stored.subject_id,
        stored.sequence,
    )
    assert claimed.payload == stored.payload
    assert claimed.event_created_at == stored.created_at
    assert claimed.event_created_at.tzinfo is UTC
