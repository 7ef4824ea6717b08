"""Shared steps for call tests: place a call over HTTP, drive the simulator with the ManualClock."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from httpx import Response
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ramal.carrier.simulator import CallSimulator
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import calls, events

ORIGIN = "554130600300"


def envelope(response: Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def place(client: TestClient, token: str, destination: str, **extra: str) -> dict[str, Any]:
    data = {"access_token": token, "origem": ORIGIN, "destino": destination, **extra}
    return envelope(client.post("/voz/call", data=data))


def settle(container: Container, clock: ManualClock, *, until_seconds: float = 3600) -> None:
    """Run the simulator, jumping the clock to each next due step, until nothing is active."""
    simulator = CallSimulator(container.calls, idle_seconds=0)
    start = clock.now()
    while True:
        asyncio.run(simulator.run_once())
        due = next_due(container)
        if due is None or (due - start).total_seconds() > until_seconds:
            return
        clock.set(max(due, clock.now()))


def next_due(container: Container) -> Any:
    with container.database.read() as connection:
        return connection.execute(select(func.min(calls.c.next_step_at))).scalar_one()


def call_row(container: Container, call_id: str) -> Any:
    with container.database.read() as connection:
        return connection.execute(select(calls).where(calls.c.id == call_id)).one()


def call_events(container: Container, call_id: str) -> list[Any]:
    with container.database.read() as connection:
        query = select(events).where(events.c.subject_id == call_id).order_by(events.c.sequence)
        return list(connection.execute(query))


def count(container: Container, table: Any) -> int:
    with container.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())
