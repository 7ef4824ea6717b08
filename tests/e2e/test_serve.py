"""The quickstart, for real: a ``ramal serve`` process, the CLI, and plain HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from tests.e2e.conftest import Server, start_server, stop_server


def test_quickstart_account_token_and_authenticated_call(server: Server) -> None:
    created = server.ramal(
        "account", "create", "Minha Empresa", "--admin", "--number", "554130600300", "--json"
    )
    assert set(created) >= {"account", "pin", "client_id", "client_secret"}
    token_response = httpx.post(
        f"{server.url}/request_token",
        data={"client_id": created["client_id"], "client_secret": created["client_secret"]},
    )
    assert token_response.headers["content-type"] == "application/json; charset=utf-8"
    lines = token_response.text.splitlines()
    token_line = next(line for line in lines if '"access_token":' in line)
    token = token_line.split('"')[-2]  # how shell clients read it: the last quoted string on the line
    info = orjson.loads(httpx.post(f"{server.url}/ramal/token-info", data={"access_token": token}).content)
    assert info["codigo"] == "000"
    assert info["pin"] == created["pin"]


def test_operational_endpoints(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json()["status"] == "ok"
    httpx.post(f"{server.url}/request_token", data={"client_id": "x", "client_secret": "y"})
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'ramal_requests_total{codigo="006",endpoint="/request_token"}' in metrics
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/request_token" in spec["paths"]
    assert "swagger-ui" in httpx.get(f"{server.url}/docs").text
    assert httpx.get(f"{server.url}/docs/static/swagger-ui-bundle.js").status_code == 200


def test_json_access_log_never_contains_tokens_or_secrets(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path, RAMAL_ACCESS_LOG="true", RAMAL_LOG_FORMAT="json")
    try:
        created = server.ramal("account", "create", "Logs", "--json")
        credentials = {"client_id": created["client_id"], "client_secret": created["client_secret"]}
        token = orjson.loads(httpx.post(f"{server.url}/request_token", data=credentials).content)[
            "access_token"
        ]
        httpx.get(f"{server.url}/ramal/token-info?access_token={token}")
        httpx.get(f"{server.url}/nope?access_token={token}")
    finally:
        stop_server(server)
    log_text = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert token not in log_text
    assert str(created["client_secret"]) not in log_text
    entries = [orjson.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    requests = [e for e in entries if e.get("path") == "/ramal/token-info"]
    assert requests
    assert requests[0]["codigo"] == "000"
    assert requests[0]["method"] == "GET"
