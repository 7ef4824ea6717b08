"""Receiving callbacks: Standard Webhooks signatures and the ``data=<JSON>`` body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
import pytest

from ramal.client import (
    CallbackEvent,
    CallEvent,
    InvalidPayload,
    InvalidSignature,
    MessageEvent,
    parse_callback,
    verify_signature,
)
from ramal.client.webhooks import sign

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER = "whsec_" + base64.b64encode(b"another key, during a rotation").decode()
NOW = 1_795_000_000
CALL_DATA = {
    "evento": "call.completed",
    "data_evento": "2026-11-23 10:31:00",
    "callerid": "0190a8f0-0000-7000-8000-000000000001",
    "pin": "12345678",
    "direcao": "saida",
    "origem": "554130600300",
    "destino": "5541999990000",
    "status": "finalizada",
    "inicio": "2026-11-23 10:30:00",
    "atendimento": "2026-11-23 10:30:05",
    "fim": "2026-11-23 10:31:00",
    "duracao": "00:00:55",
    "duracao_cobrada": "00:01:00",
    "motivo": None,
    "gravacao_link": "http:\\/\\/127.0.0.1:8080\\/extrato\\/gravacao\\/id/" + "a" * 40,
    "campos": {"CPF": "000.000.000-00", "nome": "João da Silva"},
    "final": True,
    "algo_novo": "campos desconhecidos são tolerados",
}


def form_body(data: dict[str, object]) -> bytes:
    return urlencode({"data": orjson.dumps(data).decode()}).encode()


def reference_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks, computed independently of the SDK."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(body: bytes, *, timestamp: int = NOW, signatures: str | None = None) -> dict[str, str]:
    return {
        "webhook-id": "msg_2abc",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures or reference_signature(KEY, "msg_2abc", timestamp, body),
    }


# --- verify_signature ------------------------------------------------------------------------


def test_a_good_signature_verifies() -> None:
    body = form_body(CALL_DATA)
    verify_signature(headers(body), body, SECRET, now=NOW)
    verify_signature(headers(body), body.decode(), SECRET, now=NOW + 299)  # str body, inside the window


def test_header_names_are_case_insensitive() -> None:
    body = form_body(CALL_DATA)
    upper = {key.title(): value for key, value in headers(body).items()}
    verify_signature(upper, body, SECRET, now=NOW)


def test_the_sdk_signs_like_the_reference() -> None:
    body = form_body(CALL_DATA)
    assert sign(SECRET, "msg_2abc", NOW, body) == reference_signature(KEY, "msg_2abc", NOW, body)


def test_any_of_several_signatures_may_match() -> None:
    body = form_body(CALL_DATA)
    old = reference_signature(b"old key", "msg_2abc", NOW, body)
    both = f"{old} {reference_signature(KEY, 'msg_2abc', NOW, body)}"
    verify_signature(headers(body, signatures=both), body, SECRET, now=NOW)
    with pytest.raises(InvalidSignature, match="no v1 signature"):
        verify_signature(headers(body, signatures=both), body, OTHER, now=NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"finalizada", b"atendida")),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(NOW + 1)}, b),
        lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"][:-4] + "AAA="}, b),
    ],
    ids=["body", "id", "timestamp", "version", "signature"],
)
def test_tampered_inputs_are_rejected(tamper: object) -> None:
    body = form_body(CALL_DATA)
    tampered_headers, tampered_body = tamper(headers(body), body)  # type: ignore[operator]
    with pytest.raises(InvalidSignature):
        verify_signature(tampered_headers, tampered_body, SECRET, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86_400])
def test_stale_or_future_timestamps_are_rejected(skew: int) -> None:
    body = form_body(CALL_DATA)
    sent_at = NOW + skew
    with pytest.raises(InvalidSignature, match="tolerance 300 s"):
        verify_signature(headers(body, timestamp=sent_at), body, SECRET, now=NOW)
    verify_signature(headers(body, timestamp=sent_at), body, SECRET, now=NOW, tolerance=abs(skew))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_rejected(missing: str) -> None:
    body = form_body(CALL_DATA)
    partial = {key: value for key, value in headers(body).items() if key != missing}
    with pytest.raises(InvalidSignature, match="missing"):
        verify_signature(partial, body, SECRET, now=NOW)


def test_a_non_numeric_timestamp_and_a_bad_secret_are_rejected() -> None:
    body = form_body(CALL_DATA)
    with pytest.raises(InvalidSignature, match="not a Unix time"):
        verify_signature({**headers(body), "webhook-timestamp": "yesterday"}, body, SECRET, now=NOW)
    with pytest.raises(InvalidSignature, match="whsec_"):
        verify_signature(headers(body), body, "whsec_not base64!", now=NOW)


def test_the_real_clock_is_the_default() -> None:
    body = form_body(CALL_DATA)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature(headers(body), body, SECRET)  # NOW is in 2026-11; the test runs later or earlier


# --- parse_callback --------------------------------------------------------------------------

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(
    "shape",
    [
        lambda: form_body(CALL_DATA),
        lambda: form_body(CALL_DATA).decode(),
        lambda: orjson.dumps(CALL_DATA),
        lambda: {"data": orjson.dumps(CALL_DATA).decode()},
        lambda: {"data": [orjson.dumps(CALL_DATA).decode()]},
        lambda: CALL_DATA,
    ],
    ids=["form-bytes", "form-str", "json", "parsed-form", "parse_qs", "dict"],
)
def test_a_call_event_from_every_body_shape(shape: object) -> None:
    event = parse_callback(shape())  # type: ignore[operator]
    assert isinstance(event, CallEvent)
    assert event.event == "call.completed"
    assert event.final is True
    assert event.call_id == "0190a8f0-0000-7000-8000-000000000001"
    assert (event.origin, event.destination, event.status) == ("554130600300", "5541999990000", "finalizada")
    assert event.started_at == datetime(2026, 11, 23, 10, 30, tzinfo=SAO_PAULO)
    assert event.event_time == datetime(2026, 11, 23, 10, 31, tzinfo=SAO_PAULO)
    assert event.duration == timedelta(seconds=55)
    assert event.billable_duration == timedelta(minutes=1)
    assert event.fields == {"CPF": "000.000.000-00", "nome": "João da Silva"}
    assert event.reason is None
    assert event.model_extra == {"algo_novo": "campos desconhecidos são tolerados"}


def test_message_events_and_unknown_event_types() -> None:
    message = parse_callback(
        {
            "evento": "message.delivered",
            "data_evento": "2026-11-23 10:00:02",
            "callerid": "33294633884979",
            "id_mensagem": "m-1",
            "tipo": "texto",
            "segmentos": 2,
            "destino": "5541999990000",
            "status": "entregue",
            "entrega": "2026-11-23 10:00:02",
            "campos": [],
            "final": True,
        }
    )
    assert isinstance(message, MessageEvent)
    assert (message.segments, message.fields, message.status) == (2, {}, "entregue")
    assert message.delivered_at == datetime(2026, 11, 23, 10, 0, 2, tzinfo=SAO_PAULO)
    future = parse_callback({"evento": "call.transferred", "callerid": "x"})
    assert type(future) is CallbackEvent
    assert future.event == "call.transferred"


def test_times_can_be_read_in_another_zone() -> None:
    event = parse_callback(CALL_DATA, timezone="UTC")
    assert event.event_time == datetime(2026, 11, 23, 10, 31, tzinfo=ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"foo=bar", "no 'data' form field"),
        (b"data=%7Bnot-json", "not valid JSON"),
        (b"data=%5B1%2C2%5D", "not a JSON object"),
        (b'{"callerid": "x"}', "expected shape"),
        (b'{"evento": "call.answered", "inicio": "ontem"}', "expected shape"),
    ],
)
def test_unreadable_callbacks(body: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        parse_callback(body)
