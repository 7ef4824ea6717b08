"""Outbox retention: old events go with their deliveries and attempt log, unless something is still owed."""

from __future__ import annotations

import pytest
from aiohttp import web
from sqlalchemy import func, select
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.store.tables import deliveries, delivery_attempts, events
from tests.conftest import Account
from tests.delivery.helpers import add_events, dispatcher, register, running_receiver


def counts(container: Container) -> tuple[int, int, int]:
    with container.database.read() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (events, deliveries, delivery_attempts)
        )


def surviving_events(container: Container) -> set[str]:
    with container.database.read() as connection:
        return set(connection.execute(select(events.c.id)).scalars())


async def test_finished_events_past_retention_go_and_owed_ones_stay(
    container: Container, account: Account, clock: ManualClock
) -> None:
    async def only_call_1(request: web.Request) -> web.StreamResponse:
        body = (await request.post())["data"]
        return web.Response(text="ok") if "call-1" in str(body) else web.Response(status=500)

    delivered, owed = add_events(container, account, [("call-1", 1, "completed"), ("call-2", 1, "completed")])
    async with running_receiver(only_call_1) as receiver:
        register(container, account, receiver.url)
        await dispatcher(container).run_once()  # call-1 delivered; call-2 failed once, retry pending
    clock.advance(days=91)
    [fresh] = add_events(container, account, [("call-3", 1, "completed")])  # unfanned, and young
    assert counts(container) == (3, 2, 2)

    assert container.delivery_log.purge(retention_days=90) == 1

    assert surviving_events(container) == {owed, fresh}
    assert counts(container) == (2, 1, 1)  # call-2's delivery and its attempt are kept
    assert delivered not in surviving_events(container)


def test_an_event_still_in_the_outbox_is_kept_however_old(
    container: Container, account: Account, clock: ManualClock
) -> None:
    """No dispatcher ran for months: the event was never fanned out, so it is still owed."""
    [waiting] = add_events(container, account, [("call-1", 1, "completed")])
    clock.advance(days=91)

    assert container.delivery_log.purge(retention_days=90) == 0

    assert surviving_events(container) == {waiting}


async def test_ramal_purge_applies_event_retention_and_zero_keeps_everything(
    container: Container, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_events(container, account, [("call-1", 1, "completed"), ("call-2", 1, "completed")])
    async with running_receiver() as receiver:
        register(container, account, receiver.url)
        await dispatcher(container).run_once()
    # The command runs on the real clock, days after the test clock's fixed start.
    monkeypatch.setenv("RAMAL_DATABASE_URL", container.settings.database_url)
    monkeypatch.setenv("RAMAL_EVENT_RETENTION_DAYS", "0")
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    assert "0 callback event(s)" in result.output
    assert counts(container) == (2, 2, 2)
    monkeypatch.setenv("RAMAL_EVENT_RETENTION_DAYS", "1")
    result = CliRunner().invoke(app, ["purge", "--batch", "1"])  # one event per transaction
    assert result.exit_code == 0, result.output
    assert "2 callback event(s)" in result.output
    assert counts(container) == (0, 0, 0)


@pytest.mark.parametrize("value", ["-1", "abc", "36501", "9" * 400])
def test_a_bad_event_retention_setting_is_refused_at_start(
    value: str, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMAL_DATABASE_URL", container.settings.database_url)
    monkeypatch.setenv("RAMAL_EVENT_RETENTION_DAYS", value)
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code != 0
    assert "RAMAL_EVENT_RETENTION_DAYS" in result.output  # the variable is named, not an OverflowError
    assert "Traceback" not in result.output
    assert counts(container) == (0, 0, 0)  # nothing ran
