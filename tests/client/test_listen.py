"""``ramal listen``'s receiver, in process (the real subprocess is in tests/e2e/test_listen.py)."""

from __future__ import annotations

import time

import orjson
import pytest
from starlette.testclient import TestClient

from ramal.cli.listen import receiver_app
from ramal.client.webhooks import sign
from tests.client.test_webhooks import CALL_DATA, SECRET, form_body


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    now = int(time.time())
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
        "content-type": "application/x-www-form-urlencoded",
    }


def test_pretty_output_of_a_verified_call_event(capsys: pytest.CaptureFixture[str]) -> None:
    body = form_body(CALL_DATA)
    with TestClient(receiver_app(SECRET, as_json=False)) as client:
        assert client.post("/hooks/ramal", content=body, headers=signed(body)).status_code == 200
    out = " ".join(capsys.readouterr().out.split())
    assert "call.completed final 554130600300 → 5541999990000 status=finalizada" in out
    assert "campos CPF=000.000.000-00, nome=João da Silva" in out
    assert "signature ok ✓ (msg_1)" in out


def test_json_lines_and_rejections(capsys: pytest.CaptureFixture[str]) -> None:
    body = form_body(CALL_DATA)
    with TestClient(receiver_app(SECRET, as_json=True)) as client:
        assert client.post("/", content=body, headers=signed(body)).status_code == 200
        tampered = body.replace(b"finalizada", b"atendida")
        assert client.post("/", content=tampered, headers=signed(body)).status_code == 401
        assert client.post("/", content=b"nada", headers=signed(b"nada")).status_code == 400
        assert client.get("/").status_code == 405
    accepted, bad_signature, unreadable = (
        orjson.loads(line) for line in capsys.readouterr().out.splitlines()
    )
    assert accepted["signature"] == "ok"
    assert accepted["event"]["callerid"] == CALL_DATA["callerid"]
    assert accepted["event"]["evento"] == "call.completed"
    assert bad_signature["rejected"].startswith("signature rejected: no v1 signature")
    assert unreadable["rejected"].startswith("unreadable callback")


def test_without_a_secret_events_are_shown_unverified(capsys: pytest.CaptureFixture[str]) -> None:
    body = form_body(CALL_DATA)
    with TestClient(receiver_app(None, as_json=False)) as client:
        assert client.post("/", content=body).status_code == 200
    assert "signature not checked (no --secret)" in capsys.readouterr().out
