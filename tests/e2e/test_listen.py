"""``ramal listen`` as a real process receiving real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import orjson

from ramal.client.webhooks import sign
from tests.client.test_webhooks import CALL_DATA, SECRET, form_body
from tests.e2e.conftest import free_port


def test_listen_verifies_and_prints_callbacks() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ramal", "listen", "--port", str(port), "--secret", SECRET, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/callbacks"
        body = form_body(CALL_DATA)
        deadline = time.monotonic() + 30
        while True:
            now = int(time.time())
            headers = {
                "webhook-id": "msg_9",
                "webhook-timestamp": str(now),
                "webhook-signature": sign(SECRET, "msg_9", now, body),
                "content-type": "application/x-www-form-urlencoded",
            }
            try:
                response = httpx.post(url, content=body, headers=headers)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "ramal listen did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        stale = {**headers, "webhook-timestamp": str(now - 3600)}
        assert httpx.post(url, content=body, headers=stale).status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    accepted, stale_line = (orjson.loads(line) for line in out.decode().splitlines())
    assert accepted["event"]["callerid"] == CALL_DATA["callerid"]
    assert accepted["webhook_id"] == "msg_9"
    assert "tolerance" in stale_line["rejected"]
    assert b"listening on http://127.0.0.1:" in err
    assert b"Traceback" not in err
