"""``/sms/send``, ``/sms/audio``, ``/sms/status`` and ``/sms/remove`` over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from httpx import Response
from starlette.testclient import TestClient

from ramal.clock import ManualClock
from ramal.container import Container
from tests.conftest import Account, make_account
from tests.messages_helpers import all_events, events_of, field_rows, message_rows
from tests.mp3_samples import mp3_bytes

ORIGIN = "554130600300"


def envelope(response: Response) -> dict[str, Any]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def send(client: TestClient, account: Account, files: Any = None, **fields: str) -> dict[str, Any]:
    data = {"access_token": account.token, "origem": ORIGIN, **fields}
    return envelope(client.post("/sms/send", data=data, files=files))


def status(client: TestClient, account: Account, code: str) -> dict[str, Any]:
    return envelope(client.get("/sms/status", params={"access_token": account.token, "code": code}))


# --- the success response ------------------------------------------------------------------------


def test_success_response_has_the_real_shape(client: TestClient, account: Account) -> None:
    response = client.post(
        "/sms/send",
        data={"access_token": account.token, "origem": ORIGIN, "destino": "5583987240166", "texto": "Oi"},
    )
    answer = envelope(response)
    callerid = answer["callerid"]
    assert re.fullmatch(r"[1-9]\d{13}", callerid)
    assert list(answer) == ["api", "modulo", "status", "codigo", "msg", "destino", "callerid"]
    assert answer == {
        "api": "sms",
        "modulo": "enviar",
        "status": "ok",
        "codigo": "000",
        "msg": f"001 - Mensagem enviada com sucessso - CALLER-ID: {callerid}",
        "destino": ["5583987240166"],
        "callerid": callerid,
    }
    assert (
        f'"msg": "001 - Mensagem enviada com sucessso - CALLER-ID: {callerid}",\n'.encode()
        in response.content
    )


def test_several_destinations_share_one_callerid(
    client: TestClient, account: Account, container: Container
) -> None:
    answer = send(client, account, destino="5541999990011; 5541999990012;;5541999990011;", texto="Oi")
    assert answer["destino"] == ["5541999990011", "5541999990012"]  # duplicates and blanks dropped
    rows = message_rows(container)
    assert sorted(r.destination for r in rows) == ["5541999990011", "5541999990012"]
    assert {r.callerid for r in rows} == {answer["callerid"]}
    assert len(all_events(container)) == 2


def test_international_destination_keeps_its_00_on_the_wire(
    client: TestClient, account: Account, container: Container
) -> None:
    answer = send(client, account, destino="0014155550123", texto="Hi")
    assert answer["destino"] == ["0014155550123"]
    assert message_rows(container)[0].destination == "14155550123"
    assert status(client, account, answer["callerid"])["destinos"][0]["destino"] == "0014155550123"


def test_xml_output(client: TestClient, account: Account) -> None:
    data = {"access_token": account.token, "origem": ORIGIN, "destino": "5541999990011", "texto": "Oi"}
    response = client.post("/sms/send", data={**data, "format": "xml"})
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert b"<destino><item>5541999990011</item></destino>" in response.content


# --- segments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "short_number", "parts"),
    [(160, "n", 1), (161, "n", 2), (700, "n", 5), (140, "s", 1), (141, "s", 2), (700, "s", 6)],
)
def test_segments_are_billed_per_part(
    client: TestClient, account: Account, container: Container, length: int, short_number: str, parts: int
) -> None:
    answer = send(client, account, destino="5541999990011", texto="a" * length, short_number=short_number)
    assert answer["codigo"] == "000"
    assert message_rows(container)[0].segments == parts
    assert status(client, account, answer["callerid"])["destinos"][0]["partes"] == parts


def test_id_origem_prefixes_the_origin(client: TestClient, account: Account, container: Container) -> None:
    send(client, account, destino="5541999990011", texto="a" * 150, id_origem="s")
    row = message_rows(container)[0]
    assert row.text == f"{ORIGIN}: " + "a" * 150
    assert row.segments == 2


# --- destino_csv ---------------------------------------------------------------------------------


def test_destino_csv_with_any_separator(client: TestClient, account: Account, container: Container) -> None:
    csv = b"telefone\n5541999990011,5541999990012\r\n5541999990013;x;5541999990011\n"
    answer = send(client, account, files={"destino_csv": ("lista.csv", csv, "text/csv")}, texto="Oi")
    assert answer["codigo"] == "000", answer
    assert answer["destino"] == ["5541999990011", "5541999990012", "5541999990013"]
    assert len(message_rows(container)) == 3


# --- campos --------------------------------------------------------------------------------------


def test_campos_kept_as_json_and_as_indexed_rows(
    client: TestClient, account: Account, container: Container
) -> None:
    send(
        client,
        account,
        destino="5541999990011;5541999990012",
        texto="Oi",
        **{"campos[nome]": "João da Silva", "campos[CPF]": "000.000.000-00"},
    )
    rows = message_rows(container)
    assert all(r.campos == {"nome": "João da Silva", "CPF": "000.000.000-00"} for r in rows)
    fields = field_rows(container)
    assert len(fields) == 4
    assert {f.value for f in fields if f.key == "nome"} == {"João da Silva"}
    assert {f.account_id for f in fields} == {account.account_id}
    assert {(f.message_id, f.started_at) for f in fields} == {(r.id, r.started_at) for r in rows}


# --- scheduling, window, cancelling --------------------------------------------------------------


def test_cron_schedules_and_remove_cancels(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    # The clock stands at 12:00 UTC = 09:00 in São Paulo; schedule for 10:30 local.
    answer = send(client, account, destino="5541999995678", texto="Oi", cron="23-11-2026-10-30-00")
    row = message_rows(container)[0]
    assert row.scheduled_at == row.started_at == datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    shown = status(client, account, answer["callerid"])
    assert shown["msg"] == "Agendada para 2026-11-23 10:30:00"
    assert shown["destinos"][0]["status"] == "agendada"

    clock.advance(minutes=50)
    assert container.messages.advance_due() == 0  # not yet due

    code = answer["callerid"]
    removed = envelope(client.get("/sms/remove", params={"access_token": account.token, "code": code}))
    assert removed["codigo"] == "000"
    assert removed["code"] == code
    assert status(client, account, code)["destinos"][0]["status"] == "cancelada"
    again = envelope(client.get("/sms/remove", params={"access_token": account.token, "code": code}))
    assert again["codigo"] == "010"
    assert "ja foi cancelado" in again["msg"]
    clock.advance(hours=2)
    assert container.messages.advance_due() == 0
    history = events_of(container, row.id)
    assert [(e.event_type, e.payload["final"]) for e in history] == [
        ("message.queued", False),
        ("message.canceled", True),
    ]


def test_scheduled_message_is_sent_at_its_time(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    send(client, account, destino="5541999995678", texto="Oi", cron="23-11-2026-10-30-00")
    clock.advance(hours=1, seconds=30 * 60 + 10)
    container.messages.advance_due()
    row = message_rows(container)[0]
    assert row.status == "delivered"
    assert row.sent_at == datetime(2026, 11, 23, 13, 30, 1, tzinfo=UTC)


def test_cron_in_the_past_sends_now(client: TestClient, account: Account, container: Container) -> None:
    send(client, account, destino="5541999995678", texto="Oi", cron="01-01-2020-00-00-00")
    row = message_rows(container)[0]
    assert row.scheduled_at is None
    assert row.started_at == row.created_at


def test_send_window_delays_the_start(client: TestClient, account: Account, container: Container) -> None:
    send(client, account, destino="5541999995678", texto="Oi", enviar_de="10", enviar_ate="18")
    assert message_rows(container)[0].started_at == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 10:00 local


def test_remove_after_sending_is_010(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    answer = send(client, account, destino="5541999995678", texto="Oi")
    clock.advance(10)
    container.messages.advance_due()
    removed = envelope(
        client.get("/sms/remove", params={"access_token": account.token, "code": answer["callerid"]})
    )
    assert removed["codigo"] == "010"
    assert "ja enviada" in removed["msg"]


# --- voice messages and audio ----------------------------------------------------------------------


def test_voice_message_with_text(client: TestClient, account: Account, container: Container) -> None:
    answer = send(client, account, destino="5541999995678", texto="Sua consulta e amanha", tipo="voz")
    assert answer["codigo"] == "000"
    row = message_rows(container)[0]
    assert (row.kind, row.max_attempts, row.segments, row.text) == ("voice", 3, 1, "Sua consulta e amanha")


@pytest.mark.parametrize(("given", "expected"), [("5", 5), ("abc", 3), ("", 3)])
def test_num_tentativas(
    client: TestClient, account: Account, container: Container, given: str, expected: int
) -> None:
    send(client, account, destino="5541999995678", texto="Oi", tipo="voz", num_tentativas=given)
    assert message_rows(container)[0].max_attempts == expected


def test_audio_upload_then_send_by_audio_id(
    client: TestClient, account: Account, container: Container
) -> None:
    response = client.post(
        "/sms/audio",
        data={"access_token": account.token},
        files={"audio": ("a.mp3", mp3_bytes(), "audio/mpeg")},
    )
    answer = envelope(response)
    audio_id = answer["audio_id"]
    assert re.fullmatch(r"[0-9a-f]{24}", audio_id)
    assert answer["modulo"] == "recebimento"
    assert answer["msg"] == f"Audio Cadastrado com sucesso - AUDIO_ID: {audio_id}"
    stored = container.settings.data_dir / "audio" / f"{audio_id}.mp3"
    assert stored.read_bytes() == mp3_bytes()

    sent = send(client, account, destino="5541999995678", tipo="voz", audio_id=audio_id)
    assert sent["codigo"] == "000"
    assert message_rows(container)[0].audio_id == audio_id

    other = make_account(container, "Other")
    refused = send(client, other, destino="5541999995678", tipo="voz", audio_id=audio_id)
    assert refused["codigo"] == "001"
    assert "nao cadastrado" in refused["msg"]


def test_voice_message_with_uploaded_mp3(client: TestClient, account: Account, container: Container) -> None:
    answer = send(
        client,
        account,
        files={"audio": ("a.mp3", mp3_bytes(id3=True), "audio/mpeg")},
        destino="5541999995678",
        tipo="voz",
    )
    assert answer["codigo"] == "000", answer
    audio_id = message_rows(container)[0].audio_id
    assert audio_id is not None
    assert (container.settings.data_dir / "audio" / f"{audio_id}.mp3").is_file()


# --- status ----------------------------------------------------------------------------------------


def test_status_walks_with_the_simulator(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    answer = send(client, account, destino="5541999990001;5541999995678", texto="Oi")
    code = answer["callerid"]
    assert (
        status(client, account, code)["msg"]
        == "5541999990001: Na fila de envio; 5541999995678: Na fila de envio"
    )
    clock.advance(1)
    container.messages.advance_due()
    shown = status(client, account, code)
    assert shown["destinos"][0]["status"] == "aguardando aparelho"
    clock.advance(1000)
    container.messages.advance_due()
    shown = status(client, account, code)
    assert isinstance(shown["msg"], str)
    assert [d["status"] for d in shown["destinos"]] == ["nao entregue", "entregue"]
    assert "prazo de entrega expirado" in shown["destinos"][0]["descricao"]
    assert shown["destinos"][1]["entregue_em"] == "2026-11-23 09:00:06"


def test_status_of_a_voice_message(
    client: TestClient, account: Account, container: Container, clock: ManualClock
) -> None:
    answer = send(client, account, destino="5541999990001", texto="Oi", tipo="voz", num_tentativas="2")
    clock.advance(200)
    container.messages.advance_due()
    assert status(client, account, answer["callerid"])["msg"] == "Em andamento: tentativa 2 de 2"
    clock.advance(100)
    container.messages.advance_due()
    assert (
        status(client, account, answer["callerid"])["msg"] == "Nao recebida: nao atendida apos 2 tentativa(s)"
    )


def test_status_of_another_accounts_message_is_010(
    client: TestClient, account: Account, container: Container
) -> None:
    answer = send(client, account, destino="5541999995678", texto="Oi")
    other = make_account(container, "Other")
    for who, code in ((other, answer["callerid"]), (account, "12345678901234")):
        shown = status(client, who, code)
        assert shown["codigo"] == "010"
        assert shown["msg"] == f"Identificador {code} nao existe"
        removed = envelope(client.get("/sms/remove", params={"access_token": who.token, "code": code}))
        assert removed["codigo"] == "010"
    assert message_rows(container)[0].status == "queued"  # the other account cancelled nothing


def test_status_without_code_is_001(client: TestClient, account: Account) -> None:
    shown = envelope(client.get("/sms/status", params={"access_token": account.token}))
    assert shown["codigo"] == "001"
    assert shown["msg"] == "Parametro code nao informado"


def test_destino_csv_as_a_plain_field(client: TestClient, account: Account) -> None:
    answer = send(client, account, destino_csv="5541999990011 5541999990012", texto="Oi")
    assert answer["destino"] == ["5541999990011", "5541999990012"]


def test_send_by_get_with_a_query_string(client: TestClient, account: Account) -> None:
    params = {"access_token": account.token, "origem": ORIGIN, "destino": "5541999990011", "texto": "Oi"}
    assert envelope(client.get("/sms/send", params=params))["codigo"] == "000"


@pytest.mark.parametrize("text", ["' OR '1'='1", "<x>&amp;</x>", 'aspas "duplas"', "João \u202e 😀"])
def test_text_is_stored_exactly(
    client: TestClient, account: Account, container: Container, text: str
) -> None:
    assert send(client, account, destino="5541999990011", texto=text)["codigo"] == "000"
    assert message_rows(container)[0].text == text


def test_status_in_xml(client: TestClient, account: Account) -> None:
    code = send(client, account, destino="5541999990011", texto="Oi")["callerid"]
    response = client.get(
        "/sms/status", params={"access_token": account.token, "code": code, "format": "XML"}
    )
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert b"<destinos><item><destino>5541999990011</destino>" in response.content
    assert b"<msg>Na fila de envio</msg>" in response.content
