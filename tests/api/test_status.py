"""``ramal status``: the operator's overview, counted from real traffic on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import events
from tests.conftest import Account, make_account
from tests.delivery.helpers import Receiver, dispatcher, proxy_error, register, running_receiver
from tests.traffic.helpers import envelope, place, settle

runner = CliRunner()
DAY = "2026-11-23T00:00:00"  # the ManualClock's day: explicit windows keep the test date-proof


@pytest.fixture
async def failing() -> AsyncIterator[Receiver]:
    async with running_receiver(proxy_error) as running:
        yield running


@pytest.fixture(autouse=True)
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)


def call_events(container: Container) -> int:
    with container.database.read() as connection:
        query = select(func.count()).select_from(events).where(events.c.subject_type == "call")
        return int(connection.execute(query).scalar_one())


def status(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--json", *args])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


async def test_counts_traffic_recordings_and_callback_health(
    client: TestClient, container: Container, clock: ManualClock, account: Account, failing: Receiver
) -> None:
    make_account(container, "Other", numbers=["554130600301"])
    code = register(container, account, failing.url.replace("http://", "http://ana:segredo@"))
    place(client, account.token, "5541999991234", gravar="s")  # answers and completes, recorded
    place(client, account.token, "5541999990001")  # busy
    place(client, account.token, "5541999990002")  # never answers
    await asyncio.to_thread(settle, container, clock)  # settle runs its own event loop
    place(client, account.token, "5541999990004")  # talks for ten minutes: still live
    sms = {"access_token": account.token, "origem": "5541999990000", "destino": "5541999998888"}
    assert envelope(client.post("/sms/send", data={**sms, "tipo": "texto", "texto": "oi"}))["codigo"] == "000"
    await dispatcher(container).run_once()  # fans out, attempts, gets 502s: all pending for a retry
    sent = call_events(container)  # the endpoint takes call events (the SMS ones go to SMS endpoints)

    seen = status("--since", DAY)
    assert (seen["accounts"], seen["pins"]) == (2, 2)
    assert seen["calls"]["by_status"] == {"completed": 1, "busy": 1, "no_answer": 1, "queued": 1}
    assert (seen["calls"]["total"], seen["calls"]["live"]) == (4, 1)
    assert seen["messages"]["total"] == 1
    assert seen["recordings"]["kept"] == 1
    assert seen["recordings"]["bytes"] > 0
    callbacks = seen["callbacks"]
    assert (callbacks["pending"], callbacks["outbox_backlog"], callbacks["given_up"]) == (sent, 0, {})
    assert callbacks["oldest_pending_seconds"] is not None
    [endpoint] = callbacks["endpoints"]
    assert (endpoint["code"], endpoint["state"], endpoint["pending"]) == (code, "active", sent)
    assert "segredo" not in str(seen)

    later = status("--since", "2026-11-24T00:00:00")  # a window after all of it: only the live state
    assert (later["calls"]["by_status"], later["calls"]["live"], later["callbacks"]["pending"]) == (
        {},
        1,
        sent,
    )


def test_the_table_shows_the_same_at_a_glance(
    client: TestClient, container: Container, account: Account
) -> None:
    place(client, account.token, "5541999990001")
    result = runner.invoke(app, ["status", "--since", DAY])
    assert result.exit_code == 0, result.output
    assert "accounts / pins" in result.stdout
    assert "queued 1" in result.stdout  # not yet simulated
    assert "none" in result.stdout  # no messages, no callbacks


def test_a_bad_window_is_refused_clearly() -> None:
    result = runner.invoke(app, ["status", "--since", "yesterday"])
    assert result.exit_code == 1
    assert "--since" in result.output
    assert "Traceback" not in result.output
