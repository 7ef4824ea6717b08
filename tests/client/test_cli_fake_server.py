"""CLI failure injection and usage errors (the commands themselves run against a real server in
tests/e2e/test_sdk_real_server.py)."""

from __future__ import annotations

import functools

import pytest
from typer.testing import CliRunner

from ramal.cli import client_commands
from ramal.cli.main import app
from ramal.client import Client
from tests.client.fake_directcall import FakeDirectcall, envelope_response

runner = CliRunner()


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> FakeDirectcall:
    fake = FakeDirectcall()
    monkeypatch.setattr(
        client_commands, "Client", functools.partial(Client, transport=fake.transport(), backoff=0)
    )
    monkeypatch.setenv("RAMAL_URL", "http://fake.local")
    monkeypatch.setenv("RAMAL_CLIENT_ID", fake.client_id)
    monkeypatch.setenv("RAMAL_CLIENT_SECRET", fake.client_secret)
    monkeypatch.setenv("RAMAL_CONFIG", "/nonexistent/config.toml")
    return fake


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_bad_campo_is_a_usage_error(fake_cli: FakeDirectcall) -> None:
    result = runner.invoke(app, ["call", "place", "1", "2", "--campo", "no-equals"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr
    assert fake_cli.requests == []


def test_api_errors_exit_1_with_the_code_and_message(fake_cli: FakeDirectcall) -> None:
    fake_cli.script.extend([fake_cli.handle, envelope_response("201", "Saldo insuficiente")])
    result = runner.invoke(app, ["call", "place", "554130600300", "5541999990000"])
    assert result.exit_code == 1
    assert "InsufficientBalance: [201] Saldo insuficiente" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "01/11/2026", "--to", "2026-11-23"], "YYYY-MM-DD"),
        (["--from", "2026-11-01", "--to", "2026-11-23", "--json", "--csv", "x.csv"], "choose one"),
    ],
)
def test_extrato_usage_errors(fake_cli: FakeDirectcall, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["extrato", *args])
    assert result.exit_code == 2
    assert message in result.stderr
