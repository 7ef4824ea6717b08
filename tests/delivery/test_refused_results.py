"""A result the database refuses to store costs only itself: the step's batch is then written one
result at a time, so the others are recorded and the dispatcher goes on claiming, where before every
later step failed on the same row and every endpoint waited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.delivery.dispatcher import Dispatcher
from ramal.store.repositories.deliveries import AttemptResult, ClaimedDelivery, DeliveryFilter
from ramal.store.tables import deliveries
from tests.conftest import Account
from tests.delivery.helpers import Receiver, add_events, dispatcher, register, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


def _spoil(engine: Dispatcher, subject_id: str, **changes: object) -> Callable[[], None]:
    """Make the dispatcher's result for ``subject_id``'s delivery carry ``changes``; returns the undo."""
    judge = engine._judge

    def spoiled(claim: ClaimedDelivery, started: datetime, response: object) -> AttemptResult:
        result = judge(claim, started, response)  # type: ignore[arg-type]
        return result._replace(**changes) if claim.subject_id == subject_id else result  # type: ignore[arg-type]

    engine._judge = spoiled  # type: ignore[method-assign]
    return lambda: setattr(engine, "_judge", judge)


def _by_subject(container: Container) -> dict[str, tuple[str, int]]:
    with container.database.read() as connection:
        rows = connection.execute(select(deliveries.c.subject_id, deliveries.c.state, deliveries.c.attempts))
        return {row.subject_id: (row.state, row.attempts) for row in rows}


async def test_an_unstorable_result_is_dropped_and_the_rest_recorded(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock
) -> None:
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    engine = dispatcher(container)
    undo = _spoil(engine, "call-1", attempted_at=None)  # NOT NULL: refused on either database
    await engine.run_once()
    assert _by_subject(container) == {"call-1": ("pending", 0), "call-2": ("delivered", 1)}
    add_events(container, account, [("call-3", 1, "answered")])
    await engine.run_once()  # not stalled: the next event goes out
    assert _by_subject(container)["call-3"] == ("delivered", 1)
    undo()
    clock.advance(61)  # the dropped result's lease expires: the delivery is attempted again
    await engine.run_once()
    assert _by_subject(container)["call-1"] == ("delivered", 1)
    assert len([r for r in receiver.received if r.data["callerid"] == "call-1"]) == 2


async def test_a_refused_snippet_is_recorded_without_it(
    container: Container, account: Account, receiver: Receiver
) -> None:
    if not container.database.is_postgresql:
        pytest.skip("SQLite stores a NUL in text; PostgreSQL refuses it")
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    engine = dispatcher(container)
    _spoil(engine, "call-1", snippet="ok\x00")  # what the sender's logged_text() now prevents
    await engine.run_once()
    assert _by_subject(container) == {"call-1": ("delivered", 1), "call-2": ("delivered", 1)}
    logged = {entry.delivery.subject_id: entry for entry in container.delivery_log.find(DeliveryFilter())}
    [attempt] = logged["call-1"].attempts
    assert attempt.response_snippet is None
    assert attempt.error == "erro interno: a resposta do destino nao pode ser gravada"
    assert logged["call-2"].attempts[0].response_snippet == "ok"
