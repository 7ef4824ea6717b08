"""``ramal dev seed``: realistic rows the statement can serve, and credentials to query them."""

from __future__ import annotations

import threading
import time

import orjson
import pytest
from sqlalchemy import func, inspect, select, text
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.container import Container
from ramal.store.tables import call_fields, calls, recordings

runner = CliRunner()


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    result = runner.invoke(
        app, ["dev", "seed", "--calls", "3000", "--accounts", "7", "--days", "30", "--json"]
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def count(container: Container, table: object, *where: object) -> int:
    with container.database.read() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(connection.execute(query.where(*where)).scalar_one())  # type: ignore[arg-type]


def test_seed_writes_a_realistic_mix(seeded: dict[str, object], container: Container) -> None:
    assert seeded["calls"] == 3000
    assert count(container, calls) == 3000
    per_call_fields = count(container, call_fields) / 3000
    assert 1.0 < per_call_fields < 1.5  # 60 % of calls carry CPF + nome, some a fila
    recorded = count(container, recordings)
    assert recorded == count(container, calls, calls.c.recording_id.is_not(None))
    assert 0.1 < recorded / 3000 < 0.3
    assert count(container, calls, calls.c.status == "completed") > count(
        container, calls, calls.c.status == "busy"
    )
    assert count(container, calls, calls.c.direction == "inbound") > 0
    assert str(seeded["dataFinal"]) > str(seeded["dataInicial"])
    assert int(str(seeded["rows"])) == 3000 + count(container, call_fields) + recorded


def test_seeded_credentials_query_the_whole_span(seeded: dict[str, object], client: TestClient) -> None:
    token = orjson.loads(
        client.post(
            "/request_token",
            data={"client_id": seeded["client_id"], "client_secret": seeded["client_secret"]},
        ).content
    )["access_token"]
    span = {"dataInicial": seeded["dataInicial"], "dataFinal": seeded["dataFinal"]}
    answer = orjson.loads(client.post("/extrato/list", data={"access_token": token, **span}).content)
    assert answer["codigo"] == "000"
    pin_calls = int(str(seeded["pin_calls"]))
    assert answer["paginas"] == -(-pin_calls // 50)
    assert pin_calls > 3000 / 7  # the busiest pin has more than its even share
    assert {row["pin"] for row in answer["msg"]} == {seeded["pin"]}
    cpf = next(
        row["campos"]["CPF"]
        for row in orjson.loads(
            client.post(
                "/extrato/list", data={"access_token": token, "campos['search']": "s", **span}
            ).content
        )["msg"]
        if row["campos"]
    )
    filtered = orjson.loads(
        client.post("/extrato/list", data={"access_token": token, "campos[CPF]": cpf, **span}).content
    )
    assert filtered["msg"]
    assert all(row["callerid"] for row in filtered["msg"])


def seed_again(*args: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["dev", "seed", "--calls", "3000", "--accounts", "7", "--days", "30", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_seeding_twice_gives_the_same_data_under_new_ids(
    seeded: dict[str, object], container: Container
) -> None:
    recorded = count(container, recordings)
    again = seed_again()
    assert count(container, calls) == 6000
    assert count(container, recordings) == 2 * recorded
    assert again["pin_calls"] == seeded["pin_calls"]
    assert again["rows"] == seeded["rows"]
    with container.database.read() as connection:
        first, second = (
            connection.execute(
                select(calls.c.status, calls.c.duration_seconds, calls.c.destination)
                .where(calls.c.account_id == account)
                .order_by(calls.c.started_at)
            ).all()
            for account in (seeded["account"], again["account"])
        )
    assert first == second  # same outcomes, durations and numbers (CPFs derive from the account id)


def test_a_bulk_seed_rebuilds_every_index(
    database_url: str, monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    monkeypatch.setattr("ramal.cli.dev.BULK_CALLS", 1000)  # take the drop-and-rebuild path
    expected = {
        table.name: {index.name for index in table.indexes} for table in (calls, call_fields, recordings)
    }
    seed_again()
    found = {
        name: {index["name"] for index in inspect(container.database.engine).get_indexes(name)}
        for name in expected
    }
    assert all(expected[name] <= found[name] for name in expected), (expected, found)
    assert count(container, calls) == 3000


def test_a_seed_takes_its_turn_beside_a_busy_writer(
    database_url: str, monkeypatch: pytest.MonkeyPatch, container: Container
) -> None:
    """Another process writing all the time (a live server) must not make the seed fail."""
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    monkeypatch.setattr("ramal.cli.dev.BULK_CALLS", 1000)  # DDL too must queue
    stop = threading.Event()

    def busy_writer() -> None:
        while not stop.is_set():
            with container.database.write() as connection:
                connection.execute(text("UPDATE accounts SET name = name"))
                time.sleep(0.002)

    writer = threading.Thread(target=busy_writer)
    writer.start()
    try:
        seed_again()
    finally:
        stop.set()
        writer.join()
    assert count(container, calls) == 3000
