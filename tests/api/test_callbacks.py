"""The Directcall callback registration endpoints and ramal's delivery admin API."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from ramal.container import Container
from ramal.delivery.guard import AddressGuard
from tests.conftest import Account, make_account

PUBLIC_URL = "https://93.184.215.14/webhooks/ramal?x=1"  # a public literal: no DNS needed


def call(client: TestClient, path: str, **data: Any) -> dict[str, Any]:
    response = client.post(path, data=data)
    assert response.status_code == 200
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def test_voice_add_callback_envelope_is_contract_exact(client: TestClient, account: Account) -> None:
    answer = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL, format="json")
    assert list(answer)[:6] == ["api", "modulo", "status", "codigo", "msg", "code"]
    assert answer["api"] == "sms"
    assert answer["modulo"] == "add-callback-status-chamada"
    assert answer["status"] == "ok"
    assert answer["codigo"] == "001"
    assert answer["msg"] == "URL de Callback cadastrada com sucesso."
    assert re.fullmatch(r"[0-9a-f]{40}", answer["code"])
    assert answer["secret"].startswith("whsec_")


def test_sms_add_callback_status_envelope(client: TestClient, account: Account) -> None:
    answer = call(client, "/sms/add-callback-status", access_token=account.token, url=PUBLIC_URL)
    assert (answer["api"], answer["modulo"], answer["status"], answer["codigo"]) == (
        "sms",
        "add-callback",
        "ok",
        "001",
    )


def test_list_shows_total_masks_credentials_and_sms_list_accepts_get(
    client: TestClient, account: Account
) -> None:
    call(client, "/voz/add-callback", access_token=account.token, url="https://user:hunter2@93.184.215.14/cb")
    call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL)
    call(client, "/sms/add-callback-status", access_token=account.token, url=PUBLIC_URL)
    listed = call(client, "/voz/list-callback", access_token=account.token)
    assert listed["codigo"] == "000"
    assert listed["total"] == 2
    assert listed["msg"][0]["url"] == "https://***@93.184.215.14/cb"
    assert "hunter2" not in str(listed)
    assert listed["msg"][0]["status"] == "ativo"
    assert listed["msg"][0]["pausado"] is False
    sms = orjson.loads(client.get("/sms/list-callback", params={"access_token": account.token}).content)
    assert (sms["modulo"], sms["total"]) == ("list-callback", 1)


def test_remove_then_remove_again_and_unknown_codes(
    client: TestClient, account: Account, container: Container
) -> None:
    code = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL)["code"]
    removed = call(client, "/voz/remove-callback", access_token=account.token, code=code)
    assert (removed["codigo"], removed["status"]) == ("000", "ok")
    again = call(client, "/voz/remove-callback", access_token=account.token, code=code)
    assert again["codigo"] == "010"
    unknown = call(client, "/voz/remove-callback", access_token=account.token, code="f" * 40)
    assert unknown["codigo"] == "009"
    assert "f" * 40 in unknown["msg"]
    assert call(client, "/voz/remove-callback", access_token=account.token)["codigo"] == "001"
    assert call(client, "/voz/list-callback", access_token=account.token)["total"] == 0


def test_another_accounts_code_is_unknown(client: TestClient, account: Account, container: Container) -> None:
    other = make_account(container, "Other")
    code = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL)["code"]
    assert call(client, "/voz/remove-callback", access_token=other.token, code=code)["codigo"] == "009"
    assert call(client, "/voz/list-callback", access_token=other.token)["total"] == 0
    assert call(client, "/ramal/callbacks/secret", access_token=other.token, code=code)["codigo"] == "009"
    # a voice code removed through the SMS family is unknown there too
    assert call(client, "/sms/remove-callback", access_token=account.token, code=code)["codigo"] == "009"
    assert call(client, "/voz/list-callback", access_token=account.token)["total"] == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://93.184.215.14/x", "http"),
        ("javascript:alert(1)", "http"),
        ("file:///etc/passwd", "http"),
        ("https://93.184.215.14/x#frag", "fragmento"),
        ("http:///nohost", "host"),
        ("http://exa mple.com/", "espacos"),
        ("https://93.184.215.14:99999/", "invalida"),
        ("http://127.0.0.1:8080/admin", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://2130706433/", "nao permitido"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "metadados"),
        ("http://100.100.100.200/", "metadados"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "nao permitido"),
    ],
)
def test_bad_and_private_urls_are_refused(
    client: TestClient, account: Account, url: str, reason: str
) -> None:
    answer = call(client, "/voz/add-callback", access_token=account.token, url=url)
    assert (answer["codigo"], answer["status"]) == ("001", "erro")
    assert reason in answer["msg"]
    assert call(client, "/voz/list-callback", access_token=account.token)["total"] == 0


def test_overlong_and_missing_url(client: TestClient, account: Account) -> None:
    long_url = "https://93.184.215.14/" + "a" * 2100
    assert "excede" in call(client, "/voz/add-callback", access_token=account.token, url=long_url)["msg"]
    missing = call(client, "/voz/add-callback", access_token=account.token)
    assert (missing["codigo"], missing["msg"]) == ("001", "Parametro url nao informado")


def test_allow_list_lets_localhost_in(client: TestClient, account: Account, container: Container) -> None:
    container.callbacks.guard = AddressGuard.from_setting("127.0.0.0/8, ::1")
    answer = call(client, "/voz/add-callback", access_token=account.token, url="http://localhost:9000/")
    assert answer["status"] == "ok"
    assert (
        call(client, "/voz/add-callback", access_token=account.token, url="http://10.0.0.1/")["codigo"]
        == "001"
    )


def test_pin_must_belong_to_the_account(client: TestClient, account: Account, container: Container) -> None:
    other = make_account(container, "Other")
    refused = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL, pin=other.pin)
    assert refused["codigo"] == "001"
    accepted = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL, pin=account.pin)
    assert accepted["status"] == "ok"
    assert call(client, "/voz/list-callback", access_token=account.token)["msg"][0]["pin"] == account.pin


def test_token_required_and_xml_output(client: TestClient, account: Account) -> None:
    assert call(client, "/voz/add-callback", url=PUBLIC_URL)["codigo"] == "006"
    xml = client.post(
        "/voz/add-callback", data={"access_token": account.token, "url": PUBLIC_URL, "format": "XML"}
    )
    assert b"<codigo>001</codigo>" in xml.content
    assert b"<status>ok</status>" in xml.content


def test_admin_api_secret_rotation_deliveries_replay(client: TestClient, account: Account) -> None:
    code = call(client, "/voz/add-callback", access_token=account.token, url=PUBLIC_URL)["code"]
    first = call(client, "/ramal/callbacks/secret", access_token=account.token, code=code)
    rotated = call(client, "/ramal/callbacks/rotate-secret", access_token=account.token, code=code)
    assert rotated["secret_anterior"] == first["secret"]
    assert rotated["secret"] != first["secret"]
    assert rotated["secret_anterior_expira"]
    log = call(client, "/ramal/callbacks/deliveries", access_token=account.token, desde="2h", falhas="s")
    assert (log["codigo"], log["total"], log["msg"]) == ("000", 0, [])
    assert call(client, "/ramal/callbacks/replay", access_token=account.token)["codigo"] == "001"
    assert (
        call(client, "/ramal/callbacks/replay", access_token=account.token, desde="ontem")["codigo"] == "001"
    )
    assert call(client, "/ramal/callbacks/replay", access_token=account.token, desde="1d")["total"] == 0
    resumed = call(client, "/ramal/callbacks/resume", access_token=account.token, code=code)
    assert (resumed["codigo"], resumed["pendentes"]) == ("000", 0)
