from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import orjson
import pytest
from starlette.testclient import TestClient

from ramal.clock import ManualClock
from ramal.container import Container
from tests.conftest import Account

FORM = {"content-type": "application/x-www-form-urlencoded"}


def token_request(client: TestClient, body: str, **headers: str) -> dict[str, object]:
    response = client.post("/request_token", content=body, headers={**FORM, **headers})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def test_token_is_issued_for_valid_credentials_and_authenticates(
    client: TestClient, account: Account
) -> None:
    body = token_request(client, f"client_id={account.client_id}&client_secret={account.client_secret}")
    assert body["codigo"] == "000"
    assert body["status"] == "ok"
    assert body["expires_in"] == 3600
    assert body["token_type"] == "Bearer"
    token = body["access_token"]
    assert isinstance(token, str)
    assert re.fullmatch(r"[A-Za-z0-9._-]{32,}", token)
    info = orjson.loads(client.post("/ramal/token-info", data={"access_token": token}).content)
    assert info["codigo"] == "000"
    assert info["pin"] == account.pin
    assert info["admin"] is True


def test_credentials_in_query_string_and_charset_suffix(client: TestClient, account: Account) -> None:
    response = client.post(
        f"/request_token?client_id={account.client_id}&client_secret={account.client_secret}&format=json",
        headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert orjson.loads(response.content)["codigo"] == "000"


@pytest.mark.parametrize("wrong", ["secret", "client"])
def test_wrong_credentials_give_the_same_answer(client: TestClient, account: Account, wrong: str) -> None:
    client_id = "nobody@example.com" if wrong == "client" else account.client_id
    secret = "not-the-secret" if wrong == "secret" else account.client_secret
    body = token_request(client, f"client_id={client_id}&client_secret={secret}")
    assert body["codigo"] == "006"
    assert body["access_token"] is False
    assert body["error"] == "invalid_client"
    assert body["msg"] == "Falha na autenticacao: credenciais ou token invalidos"


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ("client_secret=x", "client_id"),
        ("client_id=x", "client_secret"),
        ("client_id=&client_secret=", "client_id"),
        ("", "client_id"),
    ],
)
def test_missing_parameters(client: TestClient, body: str, missing: str) -> None:
    answer = token_request(client, body)
    assert answer["codigo"] == "001"
    assert answer["msg"] == f"Parametro {missing} nao informado"


def test_expired_token_is_refused(
    client: TestClient, container: Container, clock: ManualClock, account: Account
) -> None:
    clock.advance(timedelta(seconds=3599).total_seconds())
    assert (
        orjson.loads(client.post("/ramal/token-info", data={"access_token": account.token}).content)["codigo"]
        == "000"
    )
    clock.advance(2)
    body = orjson.loads(client.post("/ramal/token-info", data={"access_token": account.token}).content)
    assert body["codigo"] == "006"
    assert body["error"] == "invalid_token"


def test_rotation_revokes_old_tokens_and_secret(
    client: TestClient, container: Container, account: Account
) -> None:
    fresh = container.accounts.rotate_credentials(account.pin)
    assert (
        orjson.loads(client.post("/ramal/token-info", data={"access_token": account.token}).content)["codigo"]
        == "006"
    )
    old = token_request(client, f"client_id={account.client_id}&client_secret={account.client_secret}")
    assert old["codigo"] == "006"
    new = token_request(client, f"client_id={fresh.client_id}&client_secret={fresh.client_secret}")
    assert new["codigo"] == "000"


def test_secrets_and_tokens_are_stored_hashed(container: Container, account: Account) -> None:
    from sqlalchemy import select

    from ramal.store.tables import access_tokens, credentials

    with container.database.read() as connection:
        stored_secrets = list(connection.execute(select(credentials.c.secret_hash)).scalars())
        stored_tokens = list(connection.execute(select(access_tokens.c.token_hash)).scalars())
    assert account.client_secret not in stored_secrets
    assert account.token not in stored_tokens
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in stored_secrets + stored_tokens)


def test_xml_output(client: TestClient, account: Account) -> None:
    response = client.post(
        "/request_token",
        data={"client_id": account.client_id, "client_secret": account.client_secret, "format": "xml"},
    )
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.findtext("codigo") == "000"
    assert root.findtext("expires_in") == "3600"
