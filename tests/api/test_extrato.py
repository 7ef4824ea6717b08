"""``/extrato/list``, ``/extrato/list-recordings`` and ``/extrato/list-messages``: every parameter."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.services.statement import StatementService
from ramal.wire.params import campo_key
from tests.conftest import Account, make_account
from tests.statement_data import add_call, add_message
from tests.traffic.helpers import place, settle

T0 = datetime(2026, 11, 20, 13, 0, 0, tzinfo=UTC)  # 10:00:00 in America/Sao_Paulo
DAY = {"dataInicial": "20261120000000", "dataFinal": "20261120235959"}


def post(client: TestClient, path: str, token: str, **params: str) -> dict[str, Any]:
    response = client.post(path, data={"access_token": token, **params})
    assert response.status_code == 200
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def ids(answer: dict[str, Any]) -> list[str]:
    assert answer["codigo"] == "000", answer
    return [row["callerid"] for row in answer["msg"]]


def small_pages(container: Container, size: int) -> None:
    container.statement = StatementService(
        container.database, container.clock, page_size=size, retention_days=90
    )


def test_rows_layout_order_and_local_times(
    client: TestClient, container: Container, account: Account
) -> None:
    first = add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0, duration=125)
    second = add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=T0 + timedelta(hours=1),
        direction="inbound",
        status="no_answer",
        origin="5511988887777",
        destination="554130600300",
    )
    answer = post(client, "/extrato/list", account.token, **DAY)
    assert answer["api"] == "extrato"
    assert answer["modulo"] == "extrato"
    assert answer["paginas"] == 1
    assert ids(answer) == [second, first]  # newest first
    row = answer["msg"][1]
    assert list(row)[:4] == ["origem", "destino", "inicio", "gravacao_link"]
    assert row == {
        "origem": "554130600300",
        "destino": "5541999990001",
        "inicio": "2026-11-20 10:00:00",
        "gravacao_link": "",
        "callerid": first,
        "pin": account.pin,
        "direcao": "saida",
        "status": "finalizada",
        "atendimento": "2026-11-20 10:00:05",
        "fim": "2026-11-20 10:02:10",
        "duracao": "00:02:05",
        "segundos_tarifados": "180",
        "gravacao_status": "",
    }
    unanswered = answer["msg"][0]
    assert (unanswered["direcao"], unanswered["status"], unanswered["atendimento"]) == (
        "entrada",
        "nao atendida",
        "",
    )


def test_range_is_inclusive_to_the_second_and_in_the_account_zone(
    client: TestClient, container: Container, account: Account
) -> None:
    local_midnight = datetime(2026, 11, 20, 3, 0, 0, tzinfo=UTC)  # 00:00:00 local
    at_start = add_call(container, account_id=account.account_id, pin=account.pin, started_at=local_midnight)
    last_instant = local_midnight + timedelta(days=1) - timedelta(microseconds=500_000)  # 23:59:59.5
    at_end = add_call(container, account_id=account.account_id, pin=account.pin, started_at=last_instant)
    add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=local_midnight - timedelta(seconds=1),
    )
    add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=local_midnight + timedelta(days=1),
    )
    assert ids(post(client, "/extrato/list", account.token, **DAY)) == [at_end, at_start]
    one_second = {"dataInicial": "20261120000000", "dataFinal": "20261120000000"}
    assert ids(post(client, "/extrato/list", account.token, **one_second)) == [at_start]


def test_number_and_callerid_filters(client: TestClient, container: Container, account: Account) -> None:
    a = add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=T0,
        origin="554130600300",
        destination="5521911112222",
    )
    b = add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=T0 + timedelta(1),
        origin="554130600300",
        destination="5531933334444",
    )
    c = add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=T0 + timedelta(2),
        origin="5511977776666",
        destination="5531933334444",
    )
    listed = {**DAY, "dataFinal": "20261125000000"}
    assert ids(post(client, "/extrato/list", account.token, numeroOrigem="554130600300", **listed)) == [b, a]
    assert ids(post(client, "/extrato/list", account.token, numeroDestino="5531933334444", **listed)) == [
        c,
        b,
    ]
    both = {"numeroOrigem": "+554130600300", "numeroDestino": "5531933334444"}
    assert ids(post(client, "/extrato/list", account.token, **both, **listed)) == [b]
    assert ids(post(client, "/extrato/list", account.token, callerid=c, **listed)) == [c]
    assert ids(post(client, "/extrato/list", account.token, callerid="no-such-call", **listed)) == []


def test_pages_stable_order_with_ties_and_past_the_end(
    client: TestClient, container: Container, account: Account
) -> None:
    small_pages(container, 2)
    made = [
        add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0) for _ in range(3)
    ]
    made.append(
        add_call(
            container, account_id=account.account_id, pin=account.pin, started_at=T0 - timedelta(minutes=1)
        )
    )
    expected = [*sorted(made[:3], reverse=True), made[3]]  # same start: id descending breaks the tie
    page1 = post(client, "/extrato/list", account.token, **DAY)
    page2 = post(client, "/extrato/list", account.token, pagina="2", **DAY)
    assert page1["paginas"] == page2["paginas"] == 2
    assert ids(page1) + ids(page2) == expected
    for beyond in ("3", "1000", str(2**63 - 1)):
        answer = post(client, "/extrato/list", account.token, pagina=beyond, **DAY)
        assert (answer["codigo"], answer["msg"], answer["paginas"]) == ("000", [], 2)


def test_a_first_page_that_is_not_full_is_the_total_without_a_count(
    client: TestClient, container: Container, account: Account
) -> None:
    small_pages(container, 3)
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM calls" in statement:  # the statement's own reads, not the token check's
            sent.append("COUNT" if statement.startswith("SELECT count(") else "page")

    def asked(**params: str) -> tuple[list[str], int, int]:
        sent.clear()
        answer = post(client, "/extrato/list", account.token, **DAY, **params)
        return list(sent), len(ids(answer)), answer["paginas"]

    event.listen(container.database.engine, "before_cursor_execute", record)
    try:
        assert asked() == (["page"], 0, 0)
        for _ in range(2):
            add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
        assert asked() == (["page"], 2, 1)
        add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
        assert asked() == (["page", "COUNT"], 3, 1)  # a full page: there may be more
        add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
        assert asked() == (["page", "COUNT"], 3, 2)
        assert asked(pagina="2") == (["COUNT", "page"], 1, 2)
        assert asked(pagina="3") == (["COUNT"], 0, 2)  # past the end: no record is read
    finally:
        event.remove(container.database.engine, "before_cursor_execute", record)


def test_empty_statement(client: TestClient, account: Account) -> None:
    answer = post(client, "/extrato/list", account.token, **DAY)
    assert (answer["codigo"], answer["msg"], answer["paginas"]) == ("000", [], 0)


def test_tipo_filtro_values(client: TestClient, container: Container, account: Account) -> None:
    common = {"account_id": account.account_id, "pin": account.pin}
    made = add_call(container, started_at=T0, **common)
    received = add_call(container, started_at=T0 + timedelta(minutes=1), direction="inbound", **common)
    missed = add_call(
        container, started_at=T0 + timedelta(minutes=2), direction="inbound", status="no_answer", **common
    )
    ringing = add_call(
        container, started_at=T0 + timedelta(minutes=3), direction="inbound", status="ringing", **common
    )
    assert ids(post(client, "/extrato/list", account.token, **DAY)) == [ringing, missed, received, made]
    assert ids(post(client, "/extrato/list", account.token, tipoFiltro="TODAS", **DAY)) == [
        ringing,
        missed,
        received,
        made,
    ]
    assert ids(post(client, "/extrato/list", account.token, tipoFiltro="realizadas", **DAY)) == [made]
    assert ids(post(client, "/extrato/list", account.token, tipoFiltro="recebidas_atendidas", **DAY)) == [
        received
    ]
    refused = post(client, "/extrato/list", account.token, tipoFiltro="recebidas_nao_atendidas", **DAY)
    assert refused["codigo"] == "006"
    assert "entre em contato com a Directcall" in refused["msg"]
    assert "error" not in refused  # the token is fine: no OAuth token-error members
    container.statement.set_unanswered_statement(account.account_id, True)
    assert ids(post(client, "/extrato/list", account.token, tipoFiltro="recebidas_nao_atendidas", **DAY)) == [
        missed
    ]


def test_get_all_pins_is_for_admins_and_pins_are_isolated(
    client: TestClient, container: Container, account: Account
) -> None:
    other_pin = container.accounts.add_pin(str(account.account_id))  # same account, non-admin pin
    other_token = container.tokens.issue(other_pin.client_id, other_pin.client_secret).token
    mine = add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
    theirs = add_call(
        container, account_id=account.account_id, pin=other_pin.pin, started_at=T0 + timedelta(minutes=1)
    )
    assert ids(post(client, "/extrato/list", account.token, **DAY)) == [mine]  # admin, own pin by default
    assert ids(post(client, "/extrato/list", account.token, getAllPins="true", **DAY)) == [theirs, mine]
    assert ids(post(client, "/extrato/list", account.token, getAllPins="false", **DAY)) == [mine]
    assert ids(post(client, "/extrato/list", other_token, **DAY)) == [theirs]
    refused = post(client, "/extrato/list", other_token, getAllPins="true", **DAY)
    assert refused["codigo"] == "006"
    assert "administradores" in refused["msg"]
    for path in ("/extrato/list-recordings", "/extrato/list-messages"):
        assert post(client, path, other_token, getAllPins="true", **DAY)["codigo"] == "006"


def test_other_accounts_never_show(client: TestClient, container: Container, account: Account) -> None:
    stranger = make_account(container, "Stranger", admin=True)
    add_call(container, account_id=stranger.account_id, pin=stranger.pin, started_at=T0, campos={"CPF": "1"})
    mine = add_call(
        container, account_id=account.account_id, pin=account.pin, started_at=T0, campos={"CPF": "1"}
    )
    for extra in (
        {},
        {"getAllPins": "true"},
        {"campos[CPF]": "1"},
        {"campos[CPF]": "1", "getAllPins": "true"},
    ):
        assert ids(post(client, "/extrato/list", account.token, **extra, **DAY)) == [mine]


def test_campos_filters_are_anded_and_search_returns_them(
    client: TestClient, container: Container, account: Account
) -> None:
    common = {"account_id": account.account_id, "pin": account.pin}
    both = add_call(container, started_at=T0, campos={"CPF": "111", "nome": "Ana"}, **common)
    cpf_only = add_call(
        container, started_at=T0 + timedelta(1 / 24), campos={"CPF": "111", "nome": "Bia"}, **common
    )
    add_call(container, started_at=T0 + timedelta(2 / 24), campos={"CPF": "222", "nome": "Ana"}, **common)
    plain = add_call(container, started_at=T0 + timedelta(3 / 24), **common)
    assert ids(post(client, "/extrato/list", account.token, **{"campos[CPF]": "111"}, **DAY)) == [
        cpf_only,
        both,
    ]
    anded = {"campos[CPF]": "111", "campos[nome]": "Ana"}
    assert ids(post(client, "/extrato/list", account.token, **anded, **DAY)) == [both]
    assert ids(post(client, "/extrato/list", account.token, **{"campos[CPF]": "999"}, **DAY)) == []
    searched = post(client, "/extrato/list", account.token, **{"campos['search']": "s"}, **DAY)
    by_id = {row["callerid"]: row for row in searched["msg"]}
    assert by_id[both]["campos"] == {"CPF": "111", "nome": "Ana"}
    assert by_id[plain]["campos"] == {}
    without = post(client, "/extrato/list", account.token, **DAY)
    assert all("campos" not in row for row in without["msg"])
    filtered_and_searched = post(
        client, "/extrato/list", account.token, **anded, **{"campos[search]": "1"}, **DAY
    )
    assert filtered_and_searched["msg"][0]["campos"] == {"CPF": "111", "nome": "Ana"}


def test_campos_filter_with_other_filters(client: TestClient, container: Container, account: Account) -> None:
    common = {"account_id": account.account_id, "pin": account.pin, "campos": {"fila": "vendas"}}
    out = add_call(container, started_at=T0, destination="5521911112222", **common)
    add_call(container, started_at=T0 + timedelta(minutes=1), direction="inbound", **common)
    query = {"campos[fila]": "vendas", "tipoFiltro": "realizadas", "numeroDestino": "5521911112222"}
    assert ids(post(client, "/extrato/list", account.token, **query, **DAY)) == [out]


def test_recordings_links_player_and_expiry(
    client: TestClient, container: Container, account: Account
) -> None:
    common = {"account_id": account.account_id, "pin": account.pin}
    live = add_call(container, started_at=T0, recording="available", **common)
    old = add_call(container, started_at=T0 + timedelta(minutes=1), recording="expired", **common)
    purged = add_call(container, started_at=T0 + timedelta(minutes=2), recording="purged", **common)
    plain = add_call(container, started_at=T0 + timedelta(minutes=3), **common)
    everything = post(client, "/extrato/list", account.token, mostrarPlayer="s", **DAY)
    rows = {row["callerid"]: row for row in everything["msg"]}
    base = container.settings.public_base_url
    assert rows[live]["gravacao_link"].startswith(f"{base}/extrato/gravacao/id/")
    assert len(rows[live]["gravacao_link"].rsplit("/", 1)[1]) == 40
    assert rows[live]["gravacao_status"] == "disponivel"
    assert rows[live]["player"] == (
        f'<audio controls preload="none" src="{rows[live]["gravacao_link"]}"></audio>'
    )
    assert (rows[old]["gravacao_status"], rows[old]["player"]) == ("expirada", "")
    assert (rows[purged]["gravacao_status"], rows[purged]["player"]) == ("expirada", "")
    assert (rows[plain]["gravacao_link"], rows[plain]["player"]) == ("", "")
    assert "player" not in post(client, "/extrato/list", account.token, **DAY)["msg"][0]
    recorded = post(client, "/extrato/list-recordings", account.token, **DAY)
    assert ids(recorded) == [purged, old, live]
    raw = client.post("/extrato/list-recordings", data={"access_token": account.token, **DAY}).content
    assert b"http:\\/\\/" in raw  # PHP-style escaped slashes, as in the contract's example


def test_recordings_accepts_the_shared_filters(
    client: TestClient, container: Container, account: Account
) -> None:
    common = {"account_id": account.account_id, "pin": account.pin, "recording": "available"}
    wanted = add_call(container, started_at=T0, origin="5511977776666", **common)
    add_call(container, started_at=T0, **common)
    answer = post(client, "/extrato/list-recordings", account.token, numeroOrigem="5511977776666", **DAY)
    assert ids(answer) == [wanted]
    assert ids(post(client, "/extrato/list-recordings", account.token, callerid=wanted, **DAY)) == [wanted]


def test_xml_output(client: TestClient, container: Container, account: Account) -> None:
    call = add_call(
        container,
        account_id=account.account_id,
        pin=account.pin,
        started_at=T0,
        campos={"nome completo": "Zé <&>"},
        recording="available",
    )
    response = client.post(
        "/extrato/list",
        data={"access_token": account.token, "formato": "xml", "campos['search']": "s", **DAY},
    )
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.findtext("codigo") == "000"
    assert root.findtext("paginas") == "1"
    item = root.find("msg/item")
    assert item is not None
    assert item.findtext("callerid") == call
    assert item.findtext("inicio") == "2026-11-20 10:00:00"
    assert "/extrato/gravacao/id/" in item.findtext("gravacao_link", "")
    field = item.find("campos/campo")
    assert field is not None
    assert (field.get("nome"), field.text) == ("nome completo", "Zé <&>")


def test_messages_statement(client: TestClient, container: Container, account: Account) -> None:
    common = {"account_id": account.account_id, "pin": account.pin}
    sms = add_message(container, started_at=T0, campos={"CPF": "1"}, **common)
    voice = add_message(
        container, started_at=T0 + timedelta(minutes=1), kind="voice", status="sent", **common
    )
    every = post(client, "/extrato/list-messages", account.token, **DAY)
    assert ids(every) == [voice, sms]
    assert every["msg"][1] == {
        "origem": "554130600300",
        "destino": "5541999990001",
        "inicio": "2026-11-20 10:00:00",
        "callerid": sms,
        "pin": account.pin,
        "tipo": "texto",
        "direcao": "saida",
        "status": "entregue",
        "envio": "2026-11-20 10:00:02",
        "entrega": "2026-11-20 10:00:09",
        "segmentos": "1",
        "tentativas": "1",
    }
    assert ids(post(client, "/extrato/list-messages", account.token, tipo="voz", **DAY)) == [voice]
    assert ids(post(client, "/extrato/list-messages", account.token, tipo="texto", **DAY)) == [sms]
    filtered = post(
        client,
        "/extrato/list-messages",
        account.token,
        **{"campos[CPF]": "1", "campos['search']": "s"},
        **DAY,
    )
    assert ids(filtered) == [sms]
    assert filtered["msg"][0]["campos"] == {"CPF": "1"}
    assert ids(post(client, "/extrato/list-messages", account.token, callerid=voice, **DAY)) == [voice]
    bad = post(client, "/extrato/list-messages", account.token, tipo="fax", **DAY)
    assert bad["codigo"] == "001"


def test_query_string_and_get_work_too(client: TestClient, container: Container, account: Account) -> None:
    call = add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
    response = client.get("/extrato/list", params={"access_token": account.token, **DAY})
    assert [row["callerid"] for row in orjson.loads(response.content)["msg"]] == [call]


# --- bad input --------------------------------------------------------------------------------

BAD_INPUT = [
    ({"dataInicial": None}, "dataInicial nao informado"),
    ({"dataFinal": None}, "dataFinal nao informado"),
    ({"dataInicial": "20261121000000", "dataFinal": "20261120000000"}, "anterior ou igual"),
    ({"dataInicial": "2026-11-20 00:00:00"}, "dataInicial invalido"),
    ({"dataInicial": "20261120"}, "dataInicial invalido"),
    ({"dataFinal": "20261131000000"}, "dataFinal invalido"),  # no 31 November
    ({"dataFinal": "20261120250000"}, "dataFinal invalido"),
    ({"dataInicial": "20260801000000", "dataFinal": "20261120000000"}, "maximo e de 90 dias"),
    ({"pagina": "0"}, "pagina invalido"),
    ({"pagina": "-1"}, "pagina invalido"),
    ({"pagina": "abc"}, "pagina invalido"),
    ({"pagina": "1.5"}, "pagina invalido"),
    ({"pagina": str(2**63)}, "pagina invalido"),
    ({"pagina": "9" * 30}, "pagina invalido"),
    ({"pagina": "9" * 40}, "pagina excede"),
    ({"pagina": "²"}, "pagina invalido"),
    ({"tipoFiltro": "perdidas"}, "tipoFiltro invalido"),
    ({"getAllPins": "talvez"}, "getAllPins invalido"),
    ({"mostrarPlayer": "x"}, "mostrarPlayer invalido"),
    ({"formato": "PDF"}, "formato invalido"),
    ({"numeroOrigem": "55 41 3060"}, "numeroOrigem invalido"),
    ({"numeroDestino": "' OR 1=1 --"}, "numeroDestino invalido"),
    ({"callerid": "x" * 65}, "callerid excede"),
    ({"campos[a[b]]": "1"}, "chave contem caracteres invalidos"),
    ({"campos[" + "k" * 65 + "]": "1"}, "de 1 a 64 caracteres"),
    ({"campos[CPF]": "1" * 1025}, "excede 1024"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT)
def test_bad_input_answers_001(
    client: TestClient, container: Container, account: Account, change: dict[str, str | None], message: str
) -> None:
    add_call(container, account_id=account.account_id, pin=account.pin, started_at=T0)
    params: dict[str, str] = {**DAY}
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    paths = ["/extrato/list"]  # tipoFiltro belongs to it alone, mostrarPlayer to the call lists
    if "tipoFiltro" not in change:
        paths.append("/extrato/list-recordings")
        if "mostrarPlayer" not in change:
            paths.append("/extrato/list-messages")
    for path in paths:
        answer = post(client, path, account.token, **params)
        assert answer["codigo"] == "001", (path, answer)
        assert message in answer["msg"], (path, answer["msg"])
        assert answer["status"] == "erro"


@pytest.mark.parametrize(
    "key",
    ["'", '"quoted"', "x' OR '1'='1", "1; DROP TABLE calls; --", "nome completo", "%00"],
)
def test_hostile_campos_keys_and_values_are_just_data(
    client: TestClient, container: Container, account: Account, key: str
) -> None:
    stored_key = campo_key(f"campos[{key}]")  # the wire strips one pair of quotes: campos['search']
    assert stored_key
    call = add_call(
        container, account_id=account.account_id, pin=account.pin, started_at=T0, campos={stored_key: key}
    )
    assert ids(post(client, "/extrato/list", account.token, **{f"campos[{key}]": key}, **DAY)) == [call]
    assert ids(post(client, "/extrato/list", account.token, **{f"campos[{key}]": "other"}, **DAY)) == []
    assert ids(post(client, "/extrato/list", account.token, **DAY)) == [call]  # the table is intact


def test_missing_or_bad_token(client: TestClient) -> None:
    assert post(client, "/extrato/list", "nope", **DAY)["codigo"] == "006"
    response = client.post("/extrato/list", data=DAY)
    assert orjson.loads(response.content)["codigo"] == "006"


def test_a_real_sandbox_call_shows_up_with_its_fields_and_playable_recording(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    placed = place(client, account.token, "5541999990004", gravar="s", **{"campos[CPF]": "123.456.789-00"})
    settle(container, clock)
    local_day = clock.now().astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%Y%m%d")
    span = {"dataInicial": local_day + "000000", "dataFinal": local_day + "235959"}
    answer = post(
        client,
        "/extrato/list",
        account.token,
        **{"campos[CPF]": "123.456.789-00", "campos['search']": "s"},
        **span,
    )
    assert ids(answer) == [placed["callerid"]]
    row = answer["msg"][0]
    assert (row["direcao"], row["status"], row["gravacao_status"]) == ("saida", "finalizada", "disponivel")
    assert row["campos"] == {"CPF": "123.456.789-00"}
    assert row["duracao"] != "00:00:00"
    audio = client.get(row["gravacao_link"].removeprefix(container.settings.public_base_url))
    assert audio.status_code == 200
    assert ids(post(client, "/extrato/list-recordings", account.token, **span)) == [placed["callerid"]]


def test_a_real_sms_send_shows_up_in_the_message_statement(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    sent = post(
        client,
        "/sms/send",
        account.token,
        origem="554130600300",
        destino="5541999995678;5541999990002",
        texto="Ola",
        **{"campos[pedido]": "A-17"},
    )
    assert sent["codigo"] == "000", sent
    local_day = clock.now().astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%Y%m%d")
    span = {"dataInicial": local_day + "000000", "dataFinal": local_day + "235959"}
    answer = post(
        client,
        "/extrato/list-messages",
        account.token,
        **{"campos[pedido]": "A-17", "campos['search']": "s"},
        **span,
    )
    assert [row["callerid"] for row in answer["msg"]] == [sent["callerid"]] * 2
    assert {row["destino"] for row in answer["msg"]} == {"5541999995678", "5541999990002"}
    assert all(row["tipo"] == "texto" and row["campos"] == {"pedido": "A-17"} for row in answer["msg"])
    assert (
        ids(post(client, "/extrato/list-messages", account.token, callerid=sent["callerid"], **span))
        == [sent["callerid"]] * 2
    )
