"""Recording download (content type, Range, HEAD, 404) and the retention purge (service, loop, CLI)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.clock import ManualClock
from ramal.container import Container
from ramal.recordings.purge import RetentionPurge
from ramal.store.tables import recordings
from tests.conftest import Account
from tests.traffic.helpers import call_row, place, settle


def recorded_call(client: TestClient, container: Container, account: Account, clock: ManualClock) -> str:
    call_id = place(client, account.token, "5541999990004", gravar="s")["callerid"]
    settle(container, clock)
    return str(call_row(container, call_id).recording_id)


def test_download_whole_and_ranges(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    recording_id = recorded_call(client, container, account, clock)
    link = container.recordings.link(recording_id)
    assert link == f"http://127.0.0.1:8080/extrato/gravacao/id/{recording_id}"
    path = f"/extrato/gravacao/id/{recording_id}"

    whole = client.get(path)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content[:4] == b"RIFF"
    assert whole.content[8:12] == b"WAVE"
    assert len(whole.content) == 44 + 600 * 8000  # header + ten minutes of 8 kHz 8-bit mono

    part = client.get(path, headers={"range": "bytes=0-11"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-11/{len(whole.content)}"
    assert part.content == whole.content[:12]
    tail = client.get(path, headers={"range": "bytes=-100"})
    assert tail.status_code == 206
    assert tail.content == whole.content[-100:]
    beyond = client.get(path, headers={"range": f"bytes={len(whole.content) + 10}-"})
    assert beyond.status_code == 416

    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(whole.content)


@pytest.mark.parametrize("bad_id", ["0" * 40, "zz" * 20, "abc", "..%2F..%2Fetc%2Fpasswd", "A" * 40])
def test_unknown_or_malformed_ids_are_404(client: TestClient, bad_id: str) -> None:
    response = client.get(f"/extrato/gravacao/id/{bad_id}")
    assert response.status_code == 404
    assert response.json()["codigo"] in {"010", "001"}  # 001: the router's own 404 (path with slashes)


def test_purge_deletes_expired_audio_and_the_link_stops_working(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    recording_id = recorded_call(client, container, account, clock)
    opened = container.recordings.open(recording_id)
    assert opened is not None
    assert opened.path.is_file()
    clock.advance(days=89)
    assert container.recordings.purge_expired() == 0
    assert client.get(f"/extrato/gravacao/id/{recording_id}").status_code == 200
    clock.advance(days=2)
    assert client.get(f"/extrato/gravacao/id/{recording_id}").status_code == 404  # expired already
    assert asyncio.run(RetentionPurge(container.recordings).run_once()) == 0  # batch not full
    assert not opened.path.exists()
    with container.database.read() as connection:
        row = connection.execute(recordings.select()).one()
    assert row.purged_at == clock.now()
    assert container.recordings.purge_expired() == 0  # nothing left


def test_purge_command(
    client: TestClient,
    container: Container,
    account: Account,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording_id = recorded_call(client, container, account, clock)
    opened = container.recordings.open(recording_id)
    assert opened is not None
    monkeypatch.setenv("RAMAL_DATABASE_URL", container.settings.database_url)
    monkeypatch.setenv("RAMAL_DATA_DIR", str(container.settings.data_dir))
    monkeypatch.setenv("RAMAL_RECORDING_RETENTION_DAYS", "1")
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    assert "purged 0 expired" in result.output  # the real clock is not 90 days later...
    with container.database.write() as connection:
        connection.execute(recordings.update().values(expires_at=clock.now()))
    result = CliRunner().invoke(app, ["purge"])
    assert "purged 1 expired" in result.output
    assert not opened.path.exists()


def test_call_records_follow_their_own_retention(
    client: TestClient, container: Container, account: Account, clock: ManualClock
) -> None:
    from ramal.store.tables import call_fields, calls
    from tests.traffic.helpers import count

    recording_id = recorded_call(client, container, account, clock)
    opened = container.recordings.open(recording_id)
    assert opened is not None
    place(client, account.token, "5541999991234", **{"campos[CPF]": "1"})
    settle(container, clock)
    clock.advance(days=20)
    recent = container.tokens.issue(account.client_id, account.client_secret).token
    kept = place(client, recent, "5541999991234", **{"campos[CPF]": "2"})["callerid"]
    settle(container, clock)
    purger = RetentionPurge(container.recordings, call_retention_days=10)

    assert purger.purge_batch() == (0, 2, 0)  # the two old calls go, with their recording
    assert not opened.path.exists()
    assert count(container, recordings) == 0
    with container.database.read() as connection:
        assert list(connection.execute(calls.select()).scalars()) == [kept]
        assert [f.value for f in connection.execute(call_fields.select())] == ["2"]
    assert RetentionPurge(container.recordings).purge_batch() == (0, 0, 0)  # 0 days: keep forever
