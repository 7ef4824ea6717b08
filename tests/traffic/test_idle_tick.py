"""An idle simulator tick takes no write transaction: in ``ramal worker`` it would queue on the
writer lock beside the dispatcher several times a second for nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection
from starlette.testclient import TestClient

from ramal.carrier.messages import MessageSimulator
from ramal.carrier.simulator import CallSimulator
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.services.messages import MessageKind, SendRequest
from tests.conftest import Account
from tests.messages_helpers import principal
from tests.traffic.helpers import ORIGIN, call_row, place


@contextmanager
def _no_write() -> Iterator[Connection]:
    raise AssertionError("an idle tick opened a write transaction")
    yield  # pragma: no cover


async def test_call_simulator_idles_without_writing_then_moves_due_calls(
    client: TestClient,
    container: Container,
    account: Account,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = place(client, account.token, "5541999990004")["callerid"]
    clock.advance(1)
    simulator = CallSimulator(container.calls, idle_seconds=0)
    assert await simulator.run_once() == 1  # queued -> ringing
    with monkeypatch.context() as patched:
        patched.setattr(container.database, "write", _no_write)
        assert await simulator.run_once() == 0  # the next step is 3 s away
    clock.advance(3)
    assert await simulator.run_once() == 1
    assert call_row(container, call_id).status == "answered"


async def test_message_simulator_idles_without_writing_then_moves_due_messages(
    container: Container, account: Account, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = SendRequest(
        kind=MessageKind.SMS, origin=ORIGIN, destinations=["5541999995678"], text="Ola", max_attempts=3
    )
    container.messages.send(principal(container, account), request)
    simulator = MessageSimulator(container.messages)
    with monkeypatch.context() as patched:
        patched.setattr(container.database, "write", _no_write)
        assert await simulator.run_once() == 0
    clock.advance(10)
    assert await simulator.run_once() == 1
