"""Fixtures shared by every test: a clean database on each backend, a container, an app, a client.

Every test that takes ``container`` runs once on SQLite and once on PostgreSQL. Set
``RAMAL_TEST_DATABASES=sqlite`` to run one backend locally. Under ``CI=true`` an unreachable
PostgreSQL fails the run instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ramal.app import create_app
from ramal.clock import ManualClock
from ramal.container import Container, build_container
from ramal.settings import Settings
from ramal.store.database import Database
from ramal.testing.databases import DEFAULT_POSTGRES_URL, PostgresSchema, SqliteTemplate, postgres_available

POSTGRES_URL = os.environ.get("RAMAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
BACKENDS = [
    b.strip() for b in os.environ.get("RAMAL_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()
]


def pytest_sessionstart(session: pytest.Session) -> None:
    if "postgresql" in BACKENDS and os.environ.get("CI", "").lower() == "true":
        reason = postgres_available(POSTGRES_URL)
        if reason is not None:
            pytest.exit(
                f"PostgreSQL is required under CI but unreachable at {POSTGRES_URL}: {reason}", returncode=3
            )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    reason = postgres_available(POSTGRES_URL)
    if reason is not None:
        pytest.skip(f"PostgreSQL unavailable ({reason}); set RAMAL_TEST_DATABASES=sqlite to silence")
    schema = PostgresSchema(POSTGRES_URL)
    yield schema
    schema.drop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database on each configured backend."""
    if request.param == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        yield template.fresh_url()
        return
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    database = Database.from_url(schema.url)
    schema.truncate(database.engine)
    database.dispose()
    yield schema.url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path / "data", embedded_workers=False, token_cache_seconds=0
    )


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    built = build_container(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, run_workers=False)) as test_client:
        yield test_client


@dataclass(frozen=True)
class Account:
    """An account made through the service, with a live token."""

    account_id: int
    pin: str
    client_id: str
    client_secret: str
    token: str


def make_account(
    container: Container, name: str = "Acme", *, admin: bool = False, numbers: list[str] | None = None
) -> Account:
    issued = container.accounts.create_account(name, admin=admin, numbers=numbers)
    token = container.tokens.issue(issued.client_id, issued.client_secret).token
    return Account(issued.account_id, issued.pin, issued.client_id, issued.client_secret, token)


@pytest.fixture
def account(container: Container) -> Account:
    return make_account(container, "Acme", admin=True, numbers=["554130600300"])
