from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from ramal.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    return database_url


def invoke(*args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_account_create_pin_add_rotate_and_list(env: str) -> None:
    created = invoke("account", "create", "Acme", "--admin", "--number", "554130600300", "--json")
    assert created["admin"] is True
    assert created["numbers"] == ["554130600300"]
    second = invoke("pin", "add", "Acme", "--number", "5541999990000", "--json")
    assert second["account"] == created["account"]
    assert second["pin"] != created["pin"]
    rotated = invoke("credentials", "rotate", str(created["pin"]), "--json")
    assert rotated["client_secret"] != created["client_secret"]
    assert rotated["admin"] is True
    listed = invoke("account", "list", "--json")
    assert listed == [
        {
            "account": created["account"],
            "name": "Acme",
            "timezone": "America/Sao_Paulo",
            "pins": [created["pin"], second["pin"]],
            "numbers": ["554130600300", "5541999990000"],
            "created_at": listed[0]["created_at"],
        }  # type: ignore[index]
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["account", "create", "X", "--number", "12"], "number invalido"),
        (["account", "create", ""], "nome da conta"),
        (["account", "create", "X", "--timezone", "Mars/Olympus"], "Fuso horario"),
        (["pin", "add", "nobody"], "nao encontrada"),
        (["credentials", "rotate", "00000000"], "nao encontrado"),
    ],
)
def test_operator_errors_are_clear_and_exit_non_zero(env: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_number_taken_by_another_pin(env: str) -> None:
    invoke("account", "create", "A", "--number", "554130600300", "--json")
    result = runner.invoke(app, ["account", "create", "B", "--number", "554130600300"])
    assert result.exit_code == 1
    assert "ja atribuido" in result.output


def test_unanswered_statement_switch(env: str) -> None:
    created = invoke("account", "create", "Acme", "--json")
    result = runner.invoke(app, ["account", "unanswered-statement", str(created["account"])])
    assert result.exit_code == 0, result.output
    assert "enabled" in result.stdout
    missing = runner.invoke(app, ["account", "unanswered-statement", "999999", "--disable"])
    assert missing.exit_code == 1
    assert "nao encontrada" in missing.output
