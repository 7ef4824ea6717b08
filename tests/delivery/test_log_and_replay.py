"""The delivery log and replay, over the admin HTTP API and the operator CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.container import Container
from tests.conftest import Account, make_account
from tests.delivery.helpers import Receiver, add_events, dispatcher, proxy_error, register, running_receiver

runner = CliRunner()


@pytest.fixture
async def failing() -> AsyncIterator[Receiver]:
    async with running_receiver(proxy_error) as running:
        yield running


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


async def test_http_log_shows_attempts_and_replay_resends(
    client: TestClient, container: Container, account: Account, failing: Receiver
) -> None:
    code = register(container, account, failing.url)
    [event_id] = add_events(container, account, [("call-1", 1, "completed")])
    engine = dispatcher(container)
    await engine.run_once()
    log = orjson.loads(
        client.post(
            "/ramal/callbacks/deliveries", data={"access_token": account.token, "falhas": "s"}
        ).content
    )
    assert log["total"] == 1
    [item] = log["msg"]
    assert (item["evento"], item["code"], item["estado"], item["ultimo_status_http"]) == (
        event_id,
        code,
        "pending",
        502,
    )
    assert item["historico"][0]["resposta"].startswith("Bad Gateway")
    assert item["historico"][0]["latencia_ms"] >= 0
    other = make_account(container, "Other")
    hidden = orjson.loads(
        client.post("/ramal/callbacks/deliveries", data={"access_token": other.token}).content
    )
    assert hidden["total"] == 0  # another account sees nothing
    failing.behaviour = lambda _: _ok()
    replayed = orjson.loads(
        client.post(
            "/ramal/callbacks/replay", data={"access_token": account.token, "evento": event_id}
        ).content
    )
    assert replayed["total"] == 1
    await engine.run_once()
    assert [r.event_id for r in failing.received] == [event_id, event_id]
    done = orjson.loads(
        client.post("/ramal/callbacks/deliveries", data={"access_token": account.token}).content
    )
    assert done["msg"][0]["estado"] == "delivered"


async def _ok() -> web.StreamResponse:
    return web.Response(text="ok")


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    return database_url


async def test_operator_cli(env: str, container: Container, account: Account, failing: Receiver) -> None:
    code = register(container, account, failing.url.replace("http://", "http://ana:segredo@"))
    [event_id] = add_events(container, account, [("call-1", 1, "completed")])
    await dispatcher(container).run_once()
    [failed] = cli("callbacks", "deliveries", "--failed", "--json")
    assert (failed["event_id"], failed["endpoint"], failed["last_status_code"]) == (event_id, code, 502)
    assert failed["history"][0]["response"].startswith("Bad Gateway")
    assert cli("callbacks", "deliveries", "--event", "nope", "--json") == []
    assert cli("callbacks", "replay", event_id, "--json") == {"replayed": 1}
    assert cli("callbacks", "replay", "--since", "1000d", "--endpoint", code, "--json") == {"replayed": 1}
    [endpoint] = cli("callbacks", "endpoints", "--json")
    assert endpoint["url"].startswith("http://***@127.0.0.1")
    assert "segredo" not in str(endpoint)
    shown = cli("callbacks", "secret", code, "--json")
    rotated = cli("callbacks", "rotate-secret", code, "--json")
    assert rotated["previous_secret"] == shown["secret"]
    assert runner.invoke(app, ["callbacks", "replay"]).exit_code != 0
    assert runner.invoke(app, ["callbacks", "secret", "f" * 40]).exit_code != 0
    assert runner.invoke(app, ["callbacks", "deliveries", "--since", "yesterday"]).exit_code != 0
