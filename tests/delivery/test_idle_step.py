"""An idle dispatcher step takes no write lock: it polls several times a second, and on SQLite the
write lock is also the one every API write queues on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.delivery.dispatcher import Dispatcher
from tests.conftest import Account
from tests.delivery.helpers import Receiver, add_events, dispatcher, proxy_error, register, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@contextmanager
def _no_write() -> Iterator[Connection]:
    raise AssertionError("an idle step opened a write transaction")
    yield  # pragma: no cover


async def test_idle_steps_only_read_until_there_is_work(
    container: Container, account: Account, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(container, account, receiver.url)
    engine = dispatcher(container)
    with monkeypatch.context() as patched:
        patched.setattr(engine._writers[0], "write", _no_write)
        assert await engine.run_once() == 0  # nothing to fan out, nothing due
    [event_id] = add_events(container, account, [("call-1", 1, "answered")])
    assert await engine.run_once() == 2  # fanned out, then claimed
    assert [r.event_id for r in receiver.received] == [event_id]
    with monkeypatch.context() as patched:
        patched.setattr(engine._writers[0], "write", _no_write)
        assert await engine.run_once() == 0  # delivered and recorded: idle again


async def test_a_retry_coming_due_is_work_again(
    container: Container, clock: ManualClock, account: Account
) -> None:
    async with running_receiver(proxy_error) as failing:
        register(container, account, failing.url)
        add_events(container, account, [("call-1", 1, "answered")])
        engine = dispatcher(container)
        assert has_work(engine, container)  # an event to fan out
        await engine.run_once()  # a 502: retried 5 s later
        assert not has_work(engine, container)
        clock.advance(5)
        assert has_work(engine, container)
        assert await engine.run_once() == 1  # claimed and attempted again
    assert len(failing.received) == 2


def has_work(engine: Dispatcher, container: Container) -> bool:
    with container.database.read() as connection:
        return engine._repo(connection).has_work(container.clock.now())
