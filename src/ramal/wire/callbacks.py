"""The callback body on the wire: ``data=<JSON>`` with the platform's Portuguese vocabulary.

The outbox stores English-keyed snapshots (``services/events.py``); this module is the one place that
turns them into what a Directcall receiver reads. The real service's field names are unknown (contract
§7), so these follow its own words elsewhere (``callerid``, ``origem``, ``destino``, ``inicio``,
``duracao``, ``gravacao_link``, ``campos``) and are documented in docs/compat.md §5 with examples.
Times are written ``YYYY-MM-DD HH:MM:SS`` in the account's zone, like every other wire time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ramal.wire.calls import STATUS_WORDS
from ramal.wire.dates import format_display, format_duration
from ramal.wire.messages import DIRECTION_WORDS, MESSAGE_STATUS_WORDS

# The same words /voz/status answers (wire/calls.py), so a receiver sees one vocabulary.
CALL_STATUS_WORDS = {**STATUS_WORDS, "incoming": "recebida"}
# What ``urlencode`` writes (``quote_plus``): unreserved bytes as they are, space as "+", the rest %XX.
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_PERCENT = {byte: f"%{byte:02X}".encode() for byte in range(256) if byte not in _UNRESERVED}


def render_body(
    event_type: str, payload: Mapping[str, Any], occurred_at: datetime, public_base_url: str
) -> bytes:
    """The complete form body POSTed to a receiver: ``data=<url-encoded JSON>``."""
    data = render_data(event_type, payload, occurred_at, public_base_url)
    # "/" escaped like PHP's json_encode, as in every other JSON ramal writes (contract §1).
    return b"data=" + form_encode(orjson.dumps(data).replace(b"/", b"\\/"))


def form_encode(text: bytes) -> bytes:
    """``urlencode``'s bytes for one value, by one C-level ``replace`` per distinct reserved byte.

    A JSON body holds a dozen distinct reserved bytes (quotes, braces, colons, commas, spaces, the
    UTF-8 of accented letters), so a 440-byte body takes ~3.5 us, where urlencode takes ~34 and a
    per-byte table lookup ~9. Order matters: "%" first (the escapes written after it contain one),
    then the other reserved bytes (their escapes are "%" and hex digits, never replaced again), and
    the space last, since the loop would escape its "+".
    """
    reserved = set(text.translate(None, _UNRESERVED))
    if 0x25 in reserved:
        text = text.replace(b"%", b"%25")
        reserved.discard(0x25)
    space = 0x20 in reserved
    reserved.discard(0x20)
    for byte in reserved:
        text = text.replace(bytes((byte,)), _PERCENT[byte])
    return text.replace(b" ", b"+") if space else text


def render_data(
    event_type: str, payload: Mapping[str, Any], occurred_at: datetime, public_base_url: str
) -> dict[str, Any]:
    zone = ZoneInfo(str(payload.get("timezone") or "UTC"))
    common = {
        "evento": event_type,
        "data_evento": format_display(occurred_at, zone),
    }
    if event_type.startswith("message."):
        return {**common, **_message_fields(payload, zone)}
    return {**common, **_call_fields(payload, zone, public_base_url)}


def _call_fields(payload: Mapping[str, Any], zone: ZoneInfo, public_base_url: str) -> dict[str, Any]:
    recording = payload.get("recording_id")
    return {
        "callerid": payload.get("call_id"),
        "pin": payload.get("pin"),
        "direcao": _direction(payload),
        "origem": payload.get("origin"),
        "destino": payload.get("destination"),
        "status": _word(CALL_STATUS_WORDS, payload.get("status")),
        "inicio": _local(payload.get("started_at"), zone),
        "atendimento": _local(payload.get("answered_at"), zone),
        "fim": _local(payload.get("ended_at"), zone),
        "duracao": format_duration(payload.get("duration_seconds")),
        "duracao_cobrada": format_duration(payload.get("billable_seconds")),
        "motivo": payload.get("end_reason"),
        "gravacao_link": f"{public_base_url}/extrato/gravacao/id/{recording}" if recording else None,
        "campos": dict(payload.get("campos") or {}),
        "final": bool(payload.get("final")),
    }


def _message_fields(payload: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {
        "callerid": payload.get("callerid"),
        "id_mensagem": payload.get("message_id"),
        "pin": payload.get("pin"),
        "tipo": payload.get("kind"),
        "direcao": _direction(payload),
        "origem": payload.get("origin"),
        "destino": payload.get("destination"),
        "status": _word(MESSAGE_STATUS_WORDS, payload.get("status")),
        "segmentos": payload.get("segments"),
        "inicio": _local(payload.get("created_at"), zone),
        "envio": _local(payload.get("sent_at"), zone),
        "entrega": _local(payload.get("delivered_at"), zone),
        "campos": dict(payload.get("campos") or {}),
        "final": bool(payload.get("final")),
    }


def _direction(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("direction")
    return DIRECTION_WORDS.get(str(value), None if value is None else str(value))


def _word(words: Mapping[str, str], status: Any) -> str | None:
    if status is None:
        return None
    key = str(status).replace("-", "_")
    return words.get(key, key)


def _local(value: Any, zone: ZoneInfo) -> str | None:
    if not value:
        return None
    return format_display(datetime.fromisoformat(str(value)), zone)
