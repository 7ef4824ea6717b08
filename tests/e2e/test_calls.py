"""The issue's "done when": a curl-like session places a recorded call with campos against a real
`ramal serve` at sandbox speed 1000, watches it ring, answer and complete, and downloads the recording."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from ramal.store.tables import events
from tests.e2e.conftest import Server, start_server, stop_server

ORIGIN, DESTINATION = "554130600300", "5541999990004"  # 0004: answers and talks ten (story) minutes


@pytest.fixture
def fast_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        database_url, tmp_path, RAMAL_SANDBOX_SPEED="1000", RAMAL_WORKER_POLL_SECONDS="0.02"
    )
    yield running
    stop_server(running)


def test_recorded_call_rings_answers_completes_and_its_recording_downloads(
    fast_server: Server, database_url: str
) -> None:
    created = fast_server.ramal("account", "create", "Minha Empresa", "--admin", "--number", ORIGIN, "--json")
    url = fast_server.url
    token = httpx.post(
        f"{url}/request_token",
        data={"client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]

    placed = httpx.post(
        f"{url}/voz/call",
        data={
            "access_token": token,
            "origem": ORIGIN,
            "destino": DESTINATION,
            "gravar": "s",
            "campos[CPF]": "000.000.000-00",
            "campos[nome]": "João da Silva",
        },
    ).json()
    assert placed["codigo"] == "000"
    callerid = placed["callerid"]

    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not seen or seen[-1] != "finalizada"):
        status = httpx.post(
            f"{url}/voz/status", data={"access_token": token, "origem": ORIGIN, "destino": DESTINATION}
        ).json()
        word = status["msg"][0]["status"]
        if not seen or seen[-1] != word:
            seen.append(word)
        time.sleep(0.01)
    assert seen[-1] == "finalizada"
    assert "atendida" in seen  # the ten-minute talk lasts 0.6 s of wall time: long enough to watch
    order = ["aguardando", "chamando", "atendida", "finalizada"]
    assert seen == sorted(seen, key=order.index)
    final = status["msg"][0]
    assert final["duracao"] == "00:10:00"

    engine = create_engine(database_url)
    with engine.connect() as connection:
        story = connection.execute(
            select(events.c.event_type, events.c.sequence, events.c.payload)
            .where(events.c.subject_id == callerid)
            .order_by(events.c.sequence)
        ).all()
    engine.dispose()
    assert [(e.event_type, e.sequence) for e in story] == [
        ("call.queued", 1),
        ("call.ringing", 2),
        ("call.answered", 3),
        ("call.completed", 4),
    ]
    completed = story[-1].payload
    assert completed["final"] is True
    assert completed["campos"] == {"CPF": "000.000.000-00", "nome": "João da Silva"}

    link = f"{url}/extrato/gravacao/id/{completed['recording_id']}"
    audio = httpx.get(link)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as played:
        assert played.getnframes() / played.getframerate() == 600
    part = httpx.get(link, headers={"range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == audio.content[100:200]
