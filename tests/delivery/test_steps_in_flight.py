"""Two database steps in flight in one dispatcher (what it runs on PostgreSQL), on both databases."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ramal.container import Container
from ramal.delivery.dispatcher import Dispatcher
from tests.conftest import Account
from tests.delivery.helpers import Receiver, add_events, dispatcher, register, running_receiver, wait_until

STATUSES = ["ringing", "answered", "completed"]
CALLS = 40
CONCURRENCY, ENDPOINT_CAP = 8, 4


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


class Watch:
    """Counts steps, those that began while another was in flight, and the most claims held at once."""

    def __init__(self, engine: Dispatcher, server_wait: float) -> None:
        self.steps = 0
        self.overlapped = 0
        self.most_held = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        transaction, queue = engine._transaction, engine._queue

        def slow_transaction(*args: Any) -> Any:
            with self._lock:
                self.steps += 1
                self.overlapped += self._in_flight > 0
                self._in_flight += 1
            try:
                time.sleep(server_wait)  # a step waiting on a busy server, as on PostgreSQL
                return transaction(*args)
            finally:
                with self._lock:
                    self._in_flight -= 1

        def watched_queue(*args: Any) -> None:
            queue(*args)
            self.most_held = max(self.most_held, engine._slots.waiting + engine._slots._in_flight)

        engine._transaction = slow_transaction  # type: ignore[method-assign]
        engine._queue = watched_queue  # type: ignore[method-assign]


async def test_two_steps_overlap_and_still_send_each_event_once_in_order_within_the_caps(
    container: Container, account: Account, receiver: Receiver
) -> None:
    register(container, account, receiver.url)
    add_events(
        container,
        account,
        [(f"call-{n}", seq, status) for seq, status in enumerate(STATUSES, 1) for n in range(CALLS)],
    )
    engine = dispatcher(
        container, concurrency=CONCURRENCY, endpoint_concurrency=ENDPOINT_CAP, steps_in_flight=2
    )
    watch = Watch(engine, server_wait=0.03)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run_forever(stop))
    await wait_until(lambda: len(receiver.received) >= CALLS * len(STATUSES), 20)
    stop.set()
    await task

    assert watch.overlapped > 0  # the second stepper did step while the first waited
    assert watch.most_held <= 3 * ENDPOINT_CAP  # claimed ahead once per step, no more between them
    sent = Counter(r.event_id for r in receiver.received)
    assert len(sent) == CALLS * len(STATUSES)
    assert max(sent.values()) == 1  # SKIP LOCKED (or SQLite's one writer) kept the claims apart
    by_call: dict[str, list[int]] = {}
    for r in receiver.received:
        by_call.setdefault(r.data["callerid"], []).append(int(r.headers["ramal-sequence"]))
    assert all(sequences == [1, 2, 3] for sequences in by_call.values())


async def test_only_the_first_stepper_polls_for_new_events_when_idle(
    container: Container, account: Account, receiver: Receiver
) -> None:
    register(container, account, receiver.url)
    engine = dispatcher(container, steps_in_flight=2, poll_seconds=0.05)
    watch = Watch(engine, server_wait=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run_forever(stop))
    await asyncio.sleep(0.5)  # at most 10 idle ticks (fewer on a busy machine)
    idle_steps = watch.steps
    add_events(container, account, [("call-1", 1, "answered")])
    await wait_until(lambda: len(receiver.received) == 1, 2)  # found at a tick
    stop.set()
    await task
    assert 1 <= idle_steps <= 12  # one stepper's ticks (both polling: ~20)
