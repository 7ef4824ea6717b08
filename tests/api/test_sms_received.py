"""Received SMS: the sandbox's inbound simulation (HTTP and CLI) and ``/sms/recebimento``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.clock import ManualClock
from ramal.container import Container
from tests.conftest import Account, make_account
from tests.messages_helpers import all_events, message_rows

NUMBER = "554130600300"


def envelope(response: Any) -> dict[str, Any]:
    assert response.status_code == 200
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def inbound(client: TestClient, account: Account, **fields: str) -> dict[str, Any]:
    data = {
        "access_token": account.token,
        "destino": NUMBER,
        "origem": "5511987654321",
        "texto": "Oi",
        **fields,
    }
    return envelope(client.post("/sandbox/inbound-sms", data=data))


def received(client: TestClient, account: Account, **fields: str) -> dict[str, Any]:
    return envelope(client.post("/sms/recebimento", data={"access_token": account.token, **fields}))


def test_inbound_sms_is_stored_with_its_final_event(
    client: TestClient, account: Account, container: Container
) -> None:
    answer = inbound(client, account, texto="Quero confirmar, João")
    assert answer["codigo"] == "000"
    row = message_rows(container)[0]
    assert (row.direction, row.status, row.origin, row.destination) == (
        "inbound",
        "received",
        "5511987654321",
        NUMBER,
    )
    assert row.callerid == answer["callerid"]
    [event] = all_events(container)
    assert (event.event_type, event.sequence, event.payload["final"]) == ("message.received", 1, True)
    assert event.payload["pin"] == account.pin


def test_recebimento_pages_oldest_first(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    for n in range(5):
        inbound(client, account, texto=f"mensagem {n}")
        clock.advance(60)
    first = received(
        client,
        account,
        data_inicio="2026-11-23 09:00:00",
        data_fim="2026-11-23 09:10:00",
        itens_por_pagina="2",
    )
    assert (first["codigo"], first["pagina"], first["paginas"], first["total"]) == ("000", 1, 3, 5)
    assert first["msg"] == [
        {
            "callerid": first["msg"][0]["callerid"],
            "origem": "5511987654321",
            "destino": NUMBER,
            "texto": "mensagem 0",
            "data": "2026-11-23 09:00:00",
        },
        {
            "callerid": first["msg"][1]["callerid"],
            "origem": "5511987654321",
            "destino": NUMBER,
            "texto": "mensagem 1",
            "data": "2026-11-23 09:01:00",
        },
    ]
    last = received(
        client,
        account,
        data_inicio="2026-11-23 09:00:00",
        data_fim="2026-11-23 09:10:00",
        itens_por_pagina="2",
        pagina="3",
    )
    assert [m["texto"] for m in last["msg"]] == ["mensagem 4"]
    window = received(client, account, data_inicio="2026-11-23 09:01:00", data_fim="2026-11-23 09:03:00")
    assert [m["texto"] for m in window["msg"]] == ["mensagem 1", "mensagem 2", "mensagem 3"]
    beyond = received(client, account, data_inicio="2026-11-23 09:00:00", pagina="9")
    assert (beyond["msg"], beyond["total"]) == ([], 5)


def test_recebimento_defaults_to_the_last_day(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    inbound(client, account, texto="anteontem")
    clock.advance(hours=25)
    token = container.tokens.issue(account.client_id, account.client_secret).token  # the first one expired
    fresh = Account(account.account_id, account.pin, account.client_id, account.client_secret, token)
    inbound(client, fresh, texto="hoje")
    assert [m["texto"] for m in received(client, fresh)["msg"]] == ["hoje"]
    everything = received(client, fresh, data_inicio="2026-11-01 00:00:00")
    assert [m["texto"] for m in everything["msg"]] == ["anteontem", "hoje"]


def test_outbound_messages_are_not_listed(client: TestClient, account: Account) -> None:
    client.post(
        "/sms/send",
        data={"access_token": account.token, "origem": NUMBER, "destino": "5541999995678", "texto": "x"},
    )
    assert received(client, account)["total"] == 0


def test_other_accounts_see_nothing(client: TestClient, account: Account, container: Container) -> None:
    inbound(client, account)
    other = make_account(container, "Other", numbers=["554130600399"])
    assert received(client, other)["msg"] == []
    assert received(client, account)["total"] == 1


def test_a_pin_token_sees_only_its_pin(client: TestClient, account: Account, container: Container) -> None:
    second = container.accounts.add_pin(str(account.account_id), numbers=["554130600301"])
    token = container.tokens.issue(second.client_id, second.client_secret).token
    pin_user = Account(account.account_id, second.pin, second.client_id, second.client_secret, token)
    inbound(client, account)  # to the first pin's number
    inbound(client, pin_user, destino="554130600301")
    assert received(client, pin_user)["total"] == 1
    assert received(client, account)["total"] == 2  # admin credentials: the whole account
    refused = inbound(client, pin_user, destino=NUMBER)  # not its pin's number
    assert refused["codigo"] == "001"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"data_inicio": "23/11/2026"}, "Parametro data_inicio invalido: use o formato 2013-01-29 10:36:46"),
        ({"data_fim": "2026-11-23"}, "Parametro data_fim invalido"),
        (
            {"data_inicio": "2026-11-23 10:00:00", "data_fim": "2026-11-23 09:00:00"},
            "data_inicio deve ser anterior a data_fim",
        ),
        ({"pagina": "0"}, "Parametro pagina invalido"),
        ({"itens_por_pagina": "501"}, "Parametro itens_por_pagina invalido"),
        ({"itens_por_pagina": "dez"}, "Parametro itens_por_pagina invalido"),
    ],
)
def test_bad_recebimento_parameters(
    client: TestClient, account: Account, fields: dict[str, str], message: str
) -> None:
    answer = received(client, account, **fields)
    assert (answer["codigo"], answer["modulo"]) == ("001", "recebimento")
    assert message in answer["msg"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"destino": "5541999990000"}, "nao e um numero desta conta"),
        ({"destino": "12"}, "Parametro destino invalido"),
        ({"origem": "abc"}, "Parametro origem invalido"),
        ({"texto": ""}, "Parametro texto nao informado"),
        ({"texto": "x" * 1601}, "Parametro texto excede 1600 caracteres"),
    ],
)
def test_bad_inbound_simulation(
    client: TestClient, account: Account, container: Container, fields: dict[str, str], message: str
) -> None:
    answer = inbound(client, account, **fields)
    assert answer["codigo"] == "001"
    assert message in answer["msg"]
    assert message_rows(container) == []
    assert all_events(container) == []


def test_inbound_for_another_accounts_number(
    client: TestClient, account: Account, container: Container
) -> None:
    other = make_account(container, "Other", numbers=["554130600399"])
    answer = inbound(client, other, destino=NUMBER)
    assert answer["codigo"] == "001"
    assert message_rows(container) == []


def test_cli_simulates_an_inbound_sms(
    database_url: str, monkeypatch: pytest.MonkeyPatch, container: Container, account: Account
) -> None:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    result = CliRunner().invoke(
        app, ["simulate", "inbound-sms", "--to", NUMBER, "--from", "5511987654321", "--text", "Olá", "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.stdout)
    assert (printed["pin"], printed["to"], printed["text"]) == (account.pin, NUMBER, "Olá")
    row = message_rows(container)[0]
    assert (row.callerid, row.text) == (printed["callerid"], "Olá")
    unknown = CliRunner().invoke(
        app, ["simulate", "inbound-sms", "--to", "5541999990000", "--from", "5511987654321", "--text", "x"]
    )
    assert unknown.exit_code == 1
    assert "nao e um numero desta conta" in unknown.output
