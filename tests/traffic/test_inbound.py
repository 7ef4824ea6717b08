"""Sandbox inbound calls, over HTTP and from the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import calls
from tests.conftest import Account, make_account
from tests.traffic.helpers import call_events, call_row, count, envelope, settle


def inbound(client: TestClient, token: str, **data: str) -> dict[str, object]:
    return envelope(client.post("/sandbox/inbound-call", data={"access_token": token, **data}))


def test_answered_inbound_call(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    answer = inbound(client, account.token, destino="554130600300", origem="5511987654321")
    assert (answer["api"], answer["codigo"]) == ("sandbox", "000")
    call_id = str(answer["callerid"])
    settle(container, clock)
    row = call_row(container, call_id)
    assert (row.direction, row.source, row.status, row.origin) == (
        "inbound",
        "sandbox",
        "completed",
        "5511987654321",
    )
    assert row.answered_at is not None
    assert row.billable_seconds > 0
    assert [e.event_type for e in call_events(container, call_id)] == [
        "call.incoming",
        "call.answered",
        "call.completed",
    ]


def test_missed_inbound_call(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    start = clock.now()
    answer = inbound(client, account.token, destino="554130600300", origem="5511987654321", atendida="n")
    settle(container, clock)
    row = call_row(container, str(answer["callerid"]))
    assert (row.status, row.end_reason, row.answered_at) == ("no_answer", "missed", None)
    assert (row.ended_at - start).total_seconds() == 30
    assert [e.payload["final"] for e in call_events(container, row.id)] == [False, True]


def test_inbound_to_a_number_of_another_account_is_refused(
    client: TestClient, container: Container, account: Account
) -> None:
    stranger = make_account(container, "Other", numbers=["551133334444"])
    for destino in ("551133334444", "5541999990000"):  # someone else's; nobody's
        answer = inbound(client, account.token, destino=destino, origem="5511987654321")
        assert answer["codigo"] == "001"
    answer = inbound(client, stranger.token, destino="554130600300", origem="5511987654321")
    assert answer["codigo"] == "001"
    assert inbound(client, account.token, destino="554130600300", origem="xx")["codigo"] == "001"
    assert count(container, calls) == 0


def test_simulate_inbound_call_command(
    container: Container, account: Account, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMAL_DATABASE_URL", container.settings.database_url)
    result = CliRunner().invoke(
        app, ["simulate", "inbound-call", "--to", "554130600300", "--from", "5511987654321", "--missed"]
    )
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.stdout)
    assert (printed["status"], printed["outcome"], printed["pin"]) == ("ringing", "no_answer", account.pin)
    clock.set(datetime.now(UTC))  # the command ran on the system clock
    settle(container, clock)
    assert call_row(container, printed["callerid"]).status == "no_answer"
    refused = CliRunner().invoke(
        app, ["simulate", "inbound-call", "--to", "5541999990000", "--from", "5511987654321"]
    )
    assert refused.exit_code == 1
    assert "nao pertence" in refused.output
