"""/voz/call, /voz/status, /voz/end, /voz/status-agendamento on the wire: shapes, codes, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import call_fields, calls, events
from tests.conftest import Account, make_account
from tests.traffic.helpers import ORIGIN, call_events, call_row, count, envelope, place, settle


def ask(client: TestClient, path: str, token: str, **data: str) -> dict[str, object]:
    return envelope(client.post(path, data={"access_token": token, **data}))


def test_call_success_body_is_exactly_the_contract(client: TestClient, account: Account) -> None:
    answer = place(client, account.token, "5541999991234")
    callerid = answer["callerid"]
    assert answer == {
        "api": "voz",
        "modulo": "chamar",
        "status": "ok",
        "codigo": "000",
        "msg": "Completando a sua ligacao, por favor aguarde!",
        "callerid": callerid,
    }
    assert len(callerid) == 36
    assert callerid.count("-") == 4


def test_call_is_stored_with_campos_on_the_record_and_in_the_filter_table(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    answer = place(
        client,
        account.token,
        "ip4130600301",
        gravar="s",
        inverter_discagem="s",
        **{"campos[nome]": "João da Silva", "campos[CPF]": "000.000.000-00"},
    )
    row = call_row(container, answer["callerid"])
    assert (row.direction, row.source, row.status, row.record, row.invert_dial) == (
        "outbound",
        "api",
        "queued",
        True,
        True,
    )
    assert row.destination == "ip4130600301"
    assert row.campos == {"nome": "João da Silva", "CPF": "000.000.000-00"}
    with container.database.read() as connection:
        fields = connection.execute(select(call_fields).order_by(call_fields.c.key)).all()
    assert [(f.key, f.value, f.started_at) for f in fields] == [
        ("CPF", "000.000.000-00", clock.now()),
        ("nome", "João da Silva", clock.now()),
    ]
    assert {f.account_id for f in fields} == {account.account_id}
    queued = call_events(container, answer["callerid"])[0]
    assert queued.payload["campos"] == row.campos
    assert set(queued.payload) == {
        "call_id", "pin", "direction", "origin", "destination", "status", "created_at", "started_at",
        "answered_at", "ended_at", "duration_seconds", "billable_seconds", "end_reason", "recording_id",
        "campos", "final", "timezone",
    }  # fmt: skip
    assert queued.payload["pin"] == account.pin


BAD_CALLS = [
    ({"origem": "12345"}, "origem"),
    ({"destino": "abc"}, "destino"),
    ({"destino": "999999999999"}, "destino"),
    ({"destino": "ip0130600300"}, "destino"),
    ({"destino": "ip41306"}, "destino"),
    ({"destino": ""}, "destino"),
    ({"origem": "5541" + "9" * 40}, "origem"),
    ({"gravar": "talvez"}, "gravar"),
    ({"inverter_discagem": "x"}, "inverter_discagem"),
    ({"cron": "2026-12-01 10:00:00"}, "cron"),
    ({"cron": "31-02-2027-10-00-00"}, "cron"),
    ({"cron": "01-01-2020-10-00-00"}, "cron"),
    ({"cron": "01-01-2099-10-00-00"}, "cron"),
    ({f"campos[k{n}]": "v" for n in range(31)}, "campos"),
    ({"campos[" + "k" * 65 + "]": "v"}, "campos"),
    ({"campos[nome]": "x" * 1025}, "campos[nome]"),
]


@pytest.mark.parametrize(("bad", "named"), BAD_CALLS)
def test_bad_call_requests_answer_001_and_store_nothing(
    client: TestClient, container: Container, account: Account, bad: dict[str, str], named: str
) -> None:
    data = {"access_token": account.token, "origem": ORIGIN, "destino": "5541999991234", **bad}
    answer = envelope(client.post("/voz/call", data=data))
    assert (answer["codigo"], answer["status"]) == ("001", "erro")
    assert named in answer["msg"]
    assert count(container, calls) == count(container, events) == count(container, call_fields) == 0


def test_thirty_campos_are_accepted(client: TestClient, container: Container, account: Account) -> None:
    answer = place(client, account.token, "5541999991234", **{f"campos[k{n}]": "v" * 1024 for n in range(30)})
    assert answer["codigo"] == "000"
    assert count(container, call_fields) == 30


def test_call_needs_a_token(client: TestClient, container: Container) -> None:
    answer = envelope(client.post("/voz/call", data={"origem": ORIGIN, "destino": "5541999991234"}))
    assert answer["codigo"] == "006"
    assert count(container, calls) == 0


def test_status_shows_display_number_status_word_and_duration(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    callerid = place(client, account.token, "5541999990004")["callerid"]
    clock.advance(seconds=4)
    settle(container, clock, until_seconds=0)
    clock.advance(seconds=75)
    answer = ask(client, "/voz/status", account.token, origem=ORIGIN, destino="5541999990004")
    assert answer["codigo"] == "000"
    assert answer["msg"] == [
        {
            "telefone": " 55 41  99999 0004",
            "status": "atendida",
            "inicio": "2026-11-23 09:00:00",  # 12:00 UTC in America/Sao_Paulo
            "duracao": "00:01:15",
            "callerid": callerid,
        }
    ]


def test_status_of_unknown_pair_is_010(client: TestClient, account: Account) -> None:
    answer = ask(client, "/voz/status", account.token, origem=ORIGIN, destino="5541999990004")
    assert answer["codigo"] == "010"


def test_end_an_answered_call_completes_it_once(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    callerid = place(client, account.token, "5541999990004", gravar="s")["callerid"]
    clock.advance(seconds=4)
    settle(container, clock, until_seconds=0)
    clock.advance(seconds=30)
    answer = ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999990004")
    assert (answer["codigo"], answer["msg"], answer["callerid"]) == (
        "000",
        "Chamada finalizada com sucesso",
        callerid,
    )
    row = call_row(container, callerid)
    assert (row.status, row.end_reason, row.billable_seconds, row.duration_seconds) == (
        "completed",
        "hangup_api",
        30,
        34,
    )
    assert row.recording_id is not None  # answered and gravar=s: the 30 s are recorded
    again = ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999990004")
    assert again["codigo"] == "003"
    settle(container, clock)  # the simulator's own ending is now moot
    finals = [e for e in call_events(container, callerid) if e.payload["final"]]
    assert [e.event_type for e in finals] == ["call.completed"]


def test_end_a_ringing_call_cancels_it(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    callerid = place(client, account.token, "5541999990002", gravar="s")["callerid"]
    clock.advance(seconds=2)
    settle(container, clock, until_seconds=0)
    answer = ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999990002")
    assert (answer["codigo"], answer["msg"]) == ("000", "Chamada cancelada")
    row = call_row(container, callerid)
    assert (row.status, row.end_reason, row.recording_id) == ("canceled", "canceled_api", None)
    assert [e.event_type for e in call_events(container, callerid)] == [
        "call.queued",
        "call.ringing",
        "call.canceled",
    ]


def test_end_without_an_active_call_is_003(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    assert ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999990001")["codigo"] == "003"
    place(client, account.token, "5541999990001")
    settle(container, clock)
    answer = ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999990001")
    assert answer["codigo"] == "003"
    assert "ativa" in answer["msg"]


def test_other_tenants_cannot_see_or_end_a_call(
    client: TestClient, container: Container, account: Account
) -> None:
    place(client, account.token, "5541999990004")
    stranger = make_account(container, "Other")
    colleague_pin = container.accounts.add_pin(str(account.account_id))
    colleague = container.tokens.issue(colleague_pin.client_id, colleague_pin.client_secret).token
    for token in (stranger.token, colleague):  # another account; a non-admin pin of the same account
        assert ask(client, "/voz/status", token, origem=ORIGIN, destino="5541999990004")["codigo"] == "010"
        assert ask(client, "/voz/end", token, origem=ORIGIN, destino="5541999990004")["codigo"] == "003"
    # the admin credentials of the account see calls of its other pins
    other_call = place(client, colleague, "5541999990002")["callerid"]
    seen = ask(client, "/voz/status", account.token, origem=ORIGIN, destino="5541999990002")
    assert seen["msg"][0]["callerid"] == other_call  # type: ignore[index]


def test_scheduled_call_waits_for_its_time(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    answer = place(client, account.token, "5541999991234", cron="23-11-2026-10-30-00")  # 13:30 UTC
    assert answer["codigo"] == "000"
    assert answer["agendamentoId"] == answer["callerid"]
    assert answer["msg"] == "Ligacao agendada com sucesso para 2026-11-23 10:30:00"
    schedule_id = str(answer["agendamentoId"])
    pending = ask(client, "/voz/status-agendamento", account.token, origem=ORIGIN, agendamentoId=schedule_id)
    assert (pending["modulo"], pending["situacao"], pending["retorno"]) == (
        "agendamento-status",
        "pendente",
        None,
    )

    settle(container, clock, until_seconds=60)
    assert call_row(container, schedule_id).status == "queued"  # nothing happens before its time
    settle(container, clock, until_seconds=86_400)
    row = call_row(container, schedule_id)
    assert row.status == "completed"
    assert row.started_at == row.scheduled_at == datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert row.answered_at > row.started_at
    token = container.tokens.issue(account.client_id, account.client_secret).token  # hours went by
    done = ask(client, "/voz/status-agendamento", token, origem=ORIGIN, agendamentoId=schedule_id)
    assert done["situacao"] == "executado"
    assert done["retorno"] == {
        "api": "voz",
        "modulo": "chamar",
        "status": "ok",
        "codigo": "000",
        "msg": "Completando a sua ligacao, por favor aguarde!",
        "callerid": schedule_id,
    }


def test_scheduled_call_canceled_before_its_time(
    client: TestClient, account: Account, container: Container
) -> None:
    schedule_id = str(
        place(client, account.token, "5541999991234", cron="24-11-2026-10-30-00")["agendamentoId"]
    )
    assert ask(client, "/voz/end", account.token, origem=ORIGIN, destino="5541999991234")["codigo"] == "000"
    answer = ask(client, "/voz/status-agendamento", account.token, origem=ORIGIN, agendamentoId=schedule_id)
    assert answer["situacao"] == "cancelado"
    assert call_row(container, schedule_id).status == "canceled"


def test_scheduled_status_of_unknown_or_foreign_schedule_is_010(
    client: TestClient, container: Container, account: Account
) -> None:
    schedule_id = str(
        place(client, account.token, "5541999991234", cron="24-11-2026-10-30-00")["agendamentoId"]
    )
    stranger = make_account(container, "Other")
    for token, sid, origin in (
        (account.token, "nope", ORIGIN),
        (account.token, schedule_id, "5541999998888"),
        (stranger.token, schedule_id, ORIGIN),
    ):
        answer = ask(client, "/voz/status-agendamento", token, origem=origin, agendamentoId=sid)
        assert answer["codigo"] == "010"
    missing = ask(client, "/voz/status-agendamento", account.token, origem=ORIGIN)
    assert missing["codigo"] == "001"
    assert "agendamentoId" in str(missing["msg"])


def test_xml_output(client: TestClient, account: Account) -> None:
    import xml.etree.ElementTree as ET

    data = {"access_token": account.token, "origem": ORIGIN, "destino": "5541999991234", "format": "xml"}
    root = ET.fromstring(client.post("/voz/call", data=data).content)
    assert root.findtext("codigo") == "000"
    assert root.findtext("callerid")


def test_started_at_is_when_placed(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    clock.advance(seconds=7)
    callerid = place(client, account.token, "5541999991234")["callerid"]
    row = call_row(container, callerid)
    assert row.started_at == row.created_at == clock.now()
    assert row.next_step_at == clock.now() + timedelta(seconds=1)


@pytest.mark.parametrize("path", ["/voz/status", "/voz/end"])
@pytest.mark.parametrize(
    ("origem", "destino", "named"),
    [("abc", "5541999991234", "origem"), (ORIGIN, "12", "destino"), (ORIGIN, "", "destino")],
)
def test_status_and_end_validate_numbers(
    client: TestClient, account: Account, path: str, origem: str, destino: str, named: str
) -> None:
    answer = ask(client, path, account.token, origem=origem, destino=destino)
    assert answer["codigo"] == "001"
    assert named in str(answer["msg"])
