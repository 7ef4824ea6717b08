"""Property: whatever the filters, a statement is exactly the caller's own matching calls.

Hypothesis draws the caller (admin / plain pin of account A, admin of account B) and any mix of
parameters, including other tenants' callerids, numbers and custom fields they share. Each answer is
compared with an oracle computed in Python from the seeded rows, so isolation (never another
account's rows; never another pin's rows without admin ``getAllPins``) and the filter semantics are
checked together.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from ramal.container import Container
from ramal.services.statement import StatementService
from tests.statement_data import CPFS, DESTINATIONS, NAMES, ORIGINS, SeededCall, World, build_world

PAGE_SIZE = 5
ZONE = ZoneInfo("America/Sao_Paulo")
DAYS = [f"202611{day:02d}" for day in range(16, 21)]  # the world spans 16-20 Nov, local
TIPOS = {
    None: lambda c: True,
    "todas": lambda c: True,
    "realizadas": lambda c: c.direction == "outbound",
    "recebidas_atendidas": lambda c: c.direction == "inbound" and c.status in ("completed", "answered"),
    "recebidas_nao_atendidas": lambda c: (
        c.direction == "inbound" and c.status in ("no_answer", "busy", "failed", "canceled")
    ),
}


@pytest.fixture
def world(container: Container) -> World:
    container.statement = StatementService(
        container.database, container.clock, page_size=PAGE_SIZE, retention_days=90
    )
    return build_world(container)


def rarely(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Absent three times out of four, so combined filters still leave rows to compare."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


requests = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["a_admin", "a_plain", "b_admin"]),
        "path": st.sampled_from(["/extrato/list", "/extrato/list", "/extrato/list-recordings"]),
        "first": st.integers(0, len(DAYS) - 1),
        "length": st.integers(1, 4),
        "getAllPins": st.sampled_from([None, "true", "false"]),
        "numeroOrigem": rarely(st.sampled_from(ORIGINS)),
        "numeroDestino": rarely(st.sampled_from(DESTINATIONS)),
        "callerid_of": rarely(st.integers(0, 71)),
        "CPF": rarely(st.sampled_from(CPFS)),
        "nome": rarely(st.sampled_from(NAMES)),
        "tipoFiltro": rarely(st.sampled_from([t for t in TIPOS if t])),
        "pagina": st.sampled_from([1, 1, 1, 2, 3, 9]),
    }
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests)
def test_statement_is_exactly_the_callers_matching_calls(
    client: TestClient, world: World, request: dict[str, Any]
) -> None:
    who = request["who"]
    start_day = DAYS[request["first"]]
    end_day = DAYS[min(request["first"] + request["length"], len(DAYS) - 1)]
    params: dict[str, str] = {
        "access_token": world.tokens[who],
        "dataInicial": start_day + "000000",
        "dataFinal": end_day + "235959",
        "pagina": str(request["pagina"]),
    }
    for name in ("getAllPins", "numeroOrigem", "numeroDestino"):
        if request[name] is not None:
            params[name] = request[name]
    if request["callerid_of"] is not None:
        params["callerid"] = world.calls[request["callerid_of"] % len(world.calls)].id
    for key in ("CPF", "nome"):
        if request[key] is not None:
            params[f"campos[{key}]"] = request[key]
    listing = request["path"] == "/extrato/list"
    if listing and request["tipoFiltro"] is not None:
        params["tipoFiltro"] = request["tipoFiltro"]
    answer = orjson.loads(client.post(request["path"], data=params).content)

    all_pins = request["getAllPins"] == "true"
    if all_pins and who == "a_plain":
        assert answer["codigo"] == "006"
        return
    if listing and request["tipoFiltro"] == "recebidas_nao_atendidas" and who == "b_admin":
        assert answer["codigo"] == "006"  # the optional feature is enabled for account A only
        return
    assert answer["codigo"] == "000", answer

    def wanted(call: SeededCall) -> bool:
        local_day = call.started_at.astimezone(ZONE).strftime("%Y%m%d")
        return (
            call.account_id == world.accounts[who]
            and (all_pins or call.pin == world.pins[who])
            and start_day <= local_day <= end_day
            and params.get("numeroOrigem", call.origin) == call.origin
            and params.get("numeroDestino", call.destination) == call.destination
            and params.get("callerid", call.id) == call.id
            and all(call.campos.get(key) == request[key] for key in ("CPF", "nome") if request[key])
            and (call.recorded or listing)
            and TIPOS[request["tipoFiltro"] if listing else None](call)
        )

    expected = sorted((c for c in world.calls if wanted(c)), key=lambda c: (c.started_at, c.id), reverse=True)
    first = (request["pagina"] - 1) * PAGE_SIZE
    assert [row["callerid"] for row in answer["msg"]] == [c.id for c in expected[first : first + PAGE_SIZE]]
    assert answer["paginas"] == -(-len(expected) // PAGE_SIZE)
    event("non-empty page" if expected[first : first + PAGE_SIZE] else "empty page")
    own_pin = world.pins[who]
    for row in answer["msg"]:
        assert all_pins or row["pin"] == own_pin


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    who=st.sampled_from(["a_admin", "a_plain", "b_admin"]),
    all_pins=st.booleans(),
    cpf=st.sampled_from([None, *CPFS]),
    callerid_of=st.one_of(st.none(), st.integers(0, 11)),
)
def test_message_statement_never_crosses_tenants(
    client: TestClient, world: World, who: str, all_pins: bool, cpf: str | None, callerid_of: int | None
) -> None:
    params = {
        "access_token": world.tokens[who],
        "dataInicial": "20261115000000",
        "dataFinal": "20261122235959",
    }
    if all_pins:
        params["getAllPins"] = "true"
    if cpf:
        params["campos[CPF]"] = cpf
    if callerid_of is not None:
        params["callerid"] = world.messages[callerid_of]
    answer = orjson.loads(client.post("/extrato/list-messages", data=params).content)
    if all_pins and who == "a_plain":
        assert answer["codigo"] == "006"
        return
    owners = {"a_admin": range(0, 4), "a_plain": range(4, 8), "b_admin": range(8, 12)}
    allowed = {world.messages[i] for i in owners[who]}
    if all_pins and who == "a_admin":
        allowed |= {world.messages[i] for i in owners["a_plain"]}
    assert {row["callerid"] for row in answer["msg"]} <= allowed
    if callerid_of is not None and world.messages[callerid_of] not in allowed:
        assert answer["msg"] == []
