"""Hostile and malformed requests: always an envelope with the right codigo, never a 500."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
import pytest
from httpx import Response
from sqlalchemy import func, select
from starlette.testclient import TestClient

from ramal.container import Container
from ramal.store.tables import access_tokens, accounts
from tests.conftest import Account

HOSTILE = ["' OR '1'='1", "1; DROP TABLE accounts; --", "<x>&amp;</x>", "]]><!--", '"}{', "é\u202e", "%00"]
FORM = {"content-type": "application/x-www-form-urlencoded"}


def envelope(response: Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return orjson.loads(response.content)  # type: ignore[no-any-return]


def count(container: Container, table: Any) -> int:
    with container.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize("value", HOSTILE)
def test_sql_and_xml_metacharacters_in_every_field(
    client: TestClient, account: Account, container: Container, value: str
) -> None:
    assert (
        envelope(client.post("/request_token", data={"client_id": value, "client_secret": value}))["codigo"]
        == "006"
    )
    assert envelope(client.post("/ramal/token-info", data={"access_token": value}))["codigo"] == "006"
    xml = client.post("/ramal/token-info", data={"access_token": value, "format": "xml"})
    assert ET.fromstring(xml.content).findtext("codigo") == "006"
    assert count(container, access_tokens) == 1  # the fixture's own token only
    assert count(container, accounts) == 1


def test_body_over_the_limit_is_refused_before_reading(client: TestClient, account: Account) -> None:
    body = b"client_id=a&client_secret=" + b"x" * (10 * 1024 * 1024)
    answer = envelope(client.post("/request_token", content=body, headers=FORM))
    assert answer["codigo"] == "001"
    assert "excede o limite" in answer["msg"]


def test_body_over_the_limit_without_content_length(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 100_000

    answer = envelope(client.post("/request_token", content=chunks(), headers=FORM))
    assert answer["codigo"] == "001"
    assert "excede o limite" in answer["msg"]


def test_non_utf8_body(client: TestClient) -> None:
    answer = envelope(
        client.post("/request_token", content=b"client_id=\xe9t\xe9&client_secret=x", headers=FORM)
    )
    assert answer["codigo"] == "001"
    assert "UTF-8" in answer["msg"]


def test_json_where_a_form_is_expected(client: TestClient, account: Account) -> None:
    answer = envelope(client.post("/request_token", json={"client_id": account.client_id}))
    assert answer["codigo"] == "001"
    assert "application/x-www-form-urlencoded" in answer["msg"]


def test_duplicated_parameter_with_different_values(client: TestClient, account: Account) -> None:
    body = f"client_id={account.client_id}&client_id=other&client_secret={account.client_secret}"
    answer = envelope(client.post("/request_token", content=body, headers=FORM))
    assert answer["codigo"] == "001"
    assert "client_id" in answer["msg"]


def test_unknown_format_is_reported_in_json(client: TestClient, account: Account) -> None:
    answer = envelope(client.post("/ramal/token-info", data={"access_token": account.token, "format": "PDF"}))
    assert answer["codigo"] == "001"
    assert "JSON ou XML" in answer["msg"]


def test_missing_token(client: TestClient) -> None:
    answer = envelope(client.post("/ramal/token-info", data={}))
    assert answer["codigo"] == "006"
    assert answer["error_description"]


def test_unknown_path_answers_with_an_envelope(client: TestClient) -> None:
    answer = envelope(client.post("/voz/inexistente", data={"a": "1"}), status=404)
    assert answer["codigo"] == "001"
    assert answer["api"] == "voz"
    assert "inexistente" in answer["msg"]


def test_unsupported_method_answers_with_an_envelope(client: TestClient) -> None:
    answer = envelope(client.delete("/request_token"), status=405)
    assert answer["codigo"] == "001"
    assert "DELETE" in answer["msg"]


def test_malformed_multipart(client: TestClient) -> None:
    response = client.post(
        "/request_token",
        content=b"--nope\r\ngarbage",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    answer = envelope(response)
    assert answer["codigo"] in {"001", "006"}  # unparseable parts read as no credentials at worst
    assert answer["status"] == "erro"


def test_get_is_accepted_like_post(client: TestClient, account: Account) -> None:
    response = client.get(f"/ramal/token-info?access_token={account.token}")
    assert envelope(response)["codigo"] == "000"
