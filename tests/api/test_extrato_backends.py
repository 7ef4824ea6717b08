"""The same data gives byte-identical statements on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ramal.app import create_app
from ramal.clock import ManualClock
from ramal.container import build_container
from ramal.services.statement import StatementService
from ramal.settings import Settings
from ramal.store.database import Database
from ramal.testing.databases import PostgresSchema, SqliteTemplate
from tests.conftest import BACKENDS
from tests.statement_data import CPFS, DESTINATIONS, ORIGINS, World, build_world

pytestmark = pytest.mark.skipif(
    set(BACKENDS) != {"sqlite", "postgresql"}, reason="needs both backends (RAMAL_TEST_DATABASES)"
)


class SeededIds:
    """Deterministic ids, so pins (which appear in rows) match across the two databases."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def call_id(self) -> str:
        return f"0190d000-0000-7000-8000-{self.rng.randrange(16**12):012x}"

    def hex40(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def numeric(self, digits: int) -> str:
        return str(self.rng.randrange(10 ** (digits - 1), 10**digits))


def statement_client(url: str, tmp_path: Path) -> Iterator[tuple[TestClient, World]]:
    settings = Settings(
        database_url=url, data_dir=tmp_path / "data", embedded_workers=False, token_cache_seconds=0
    )
    container = build_container(settings, clock=ManualClock(), ids=SeededIds(3))
    container.statement = StatementService(
        container.database, container.clock, page_size=7, retention_days=90
    )
    world = build_world(container)
    with TestClient(create_app(container, run_workers=False)) as client:
        yield client, world
    container.close()


def requests() -> list[tuple[str, str, dict[str, str]]]:
    days = {"dataInicial": "20261115000000", "dataFinal": "20261121235959"}
    listed: list[tuple[str, str, dict[str, str]]] = []
    variants: list[dict[str, str]] = [
        {},
        {"pagina": "2"},
        {"pagina": "4"},
        {"pagina": "99"},
        {"getAllPins": "true"},
        {"getAllPins": "true", "pagina": "3"},
        {"mostrarPlayer": "s", "campos['search']": "s"},
        {"formato": "XML", "campos['search']": "s", "mostrarPlayer": "s"},
        {"dataInicial": "20261117103000", "dataFinal": "20261118235959"},
        {"tipoFiltro": "realizadas"},
        {"tipoFiltro": "recebidas_atendidas"},
        {"tipoFiltro": "recebidas_nao_atendidas", "getAllPins": "true"},
        {"pagina": "0"},
        {"dataInicial": "20261301000000"},
        *({"numeroOrigem": number} for number in ORIGINS),
        *({"numeroDestino": number} for number in DESTINATIONS),
        *({"campos[CPF]": cpf, "getAllPins": "true"} for cpf in CPFS),
        {"campos[CPF]": "111", "campos[nome]": "Ana", "campos['search']": "s"},
    ]
    for who in ("a_admin", "a_plain", "b_admin"):
        for path in ("/extrato/list", "/extrato/list-recordings", "/extrato/list-messages"):
            listed.extend((who, path, {**days, **variant}) for variant in variants)
    return listed


def test_sqlite_and_postgresql_answer_byte_for_byte(
    sqlite_template: SqliteTemplate, postgres_schema: PostgresSchema, tmp_path: Path
) -> None:
    database = Database.from_url(postgres_schema.url)
    postgres_schema.truncate(database.engine)
    database.dispose()
    lite = statement_client(sqlite_template.fresh_url(), tmp_path / "lite")
    pg = statement_client(postgres_schema.url, tmp_path / "pg")
    (lite_client, lite_world), (pg_client, pg_world) = next(lite), next(pg)
    try:
        assert lite_world.pins == pg_world.pins
        non_empty = 0
        for who, path, params in requests():
            lite_body = lite_client.post(
                path, data={"access_token": lite_world.tokens[who], **params}
            ).content
            pg_body = pg_client.post(path, data={"access_token": pg_world.tokens[who], **params}).content
            assert lite_body == pg_body, (who, path, params)
            non_empty += b'"callerid"' in lite_body or b"<callerid>" in lite_body
        assert non_empty > 100  # the comparison covers real rows, not just empty pages
    finally:
        for generator in (lite, pg):
            generator.close()
