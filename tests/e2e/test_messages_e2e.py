"""SMS and voice messages against a real ``ramal serve``: the embedded simulator moves them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.mp3_samples import mp3_bytes

NUMBER = "554130600300"


@pytest.fixture
def fast_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        database_url, tmp_path, RAMAL_SANDBOX_SPEED="100", RAMAL_WORKER_POLL_SECONDS="0.05"
    )
    yield running
    stop_server(running)


def call(server: Server, path: str, files: Any = None, **data: str) -> dict[str, Any]:
    return orjson.loads(httpx.post(f"{server.url}{path}", data=data, files=files, timeout=10).content)  # type: ignore[no-any-return]


def wait_for(server: Server, token: str, code: str, word: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = call(server, "/sms/status", access_token=token, code=code)
        if all(d["status"] == word for d in shown["destinos"]):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{code} never reached {word}: {shown}")


def test_sms_voice_message_and_inbound_sms_end_to_end(fast_server: Server) -> None:
    created = fast_server.ramal("account", "create", "Loja", "--admin", "--number", NUMBER, "--json")
    token = call(
        fast_server,
        "/request_token",
        client_id=str(created["client_id"]),
        client_secret=str(created["client_secret"]),
    )["access_token"]

    sms = call(
        fast_server, "/sms/send", access_token=token, origem=NUMBER, destino="5541999995678", texto="Oi"
    )
    assert sms["msg"] == f"001 - Mensagem enviada com sucessso - CALLER-ID: {sms['callerid']}"
    assert wait_for(fast_server, token, sms["callerid"], "entregue")["msg"] == "Entregue ao aparelho"

    audio = call(
        fast_server, "/sms/audio", files={"audio": ("a.mp3", mp3_bytes(), "audio/mpeg")}, access_token=token
    )
    voice = call(
        fast_server,
        "/sms/send",
        access_token=token,
        origem=NUMBER,
        destino="5541999990004",
        tipo="voz",
        audio_id=audio["audio_id"],
        num_tentativas="2",
    )
    busy = wait_for(fast_server, token, voice["callerid"], "nao entregue")  # 0004: busy on both attempts
    assert busy["msg"] == "Nao recebida: ocupado em todas as tentativas"

    fast_server.ramal(
        "simulate", "inbound-sms", "--to", NUMBER, "--from", "5511987654321", "--text", "Sim", "--json"
    )
    inbox = call(fast_server, "/sms/recebimento", access_token=token)
    assert [(m["origem"], m["texto"]) for m in inbox["msg"]] == [("5511987654321", "Sim")]
