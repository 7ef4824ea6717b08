"""Receiving callbacks: check the Standard Webhooks signature, then read the event.

ramal signs every callback with the Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``,
keyed by the base64 part of the ``whsec_...`` secret). Verification is a dozen lines of ``hmac``; the
``standardwebhooks`` package would add four dependencies and no type hints for the same work, so it is
written here, with a constant-time comparison and a timestamp window against replays.

The body itself is the Directcall shape: a form with one field ``data`` holding JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any, get_args
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from ramal.client.errors import InvalidPayload, InvalidSignature
from ramal.client.models import (
    DEFAULT_TIMEZONE,
    CallbackEvent,
    CallEvent,
    CallEventType,
    MessageEvent,
    MessageEventType,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
DEFAULT_TOLERANCE_SECONDS = 300.0
_CALL_EVENTS = frozenset(get_args(CallEventType))
_MESSAGE_EVENTS = frozenset(get_args(MessageEventType))


def verify_signature(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise :class:`InvalidSignature` unless ``body`` was signed with ``secret`` recently.

    ``headers`` may be any mapping (Starlette, Flask and Django headers, or a plain dict in any
    case). ``body`` must be the raw bytes received, before any form parsing. Any one of several
    signatures matching is enough: during a secret rotation the sender signs with both secrets.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not message_id or not timestamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidSignature(f"webhook-timestamp {timestamp!r} is not a Unix time") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise InvalidSignature(
            f"webhook-timestamp is {current - sent_at:+.0f} s away from now (tolerance {tolerance:g} s): "
            "a replay, or a clock out of sync"
        )
    raw = body.encode() if isinstance(body, str) else body
    expected = _sign(_key(secret), message_id, sent_at, raw)
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return
    raise InvalidSignature("no v1 signature in webhook-signature matches this secret and body")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """A ``v1,<signature>`` token, as the sender computes it (for tests and local tools)."""
    return "v1," + _sign(_key(secret), message_id, timestamp, body)


def _sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("the secret is not a whsec_<base64> Standard Webhooks secret") from None


def parse_callback(
    body: bytes | str | Mapping[str, Any], *, timezone: str = DEFAULT_TIMEZONE
) -> CallbackEvent:
    """The event in a callback request: a :class:`CallEvent`, a :class:`MessageEvent`, or (for an event
    type this SDK does not know yet) a plain :class:`CallbackEvent`.

    ``body`` may be the raw form body (``data=%7B...``), its JSON alone, the parsed form
    (``{"data": "{...}"}``, e.g. Flask's ``request.form``) or the decoded JSON object itself.
    """
    data = _data_object(body)
    event = data.get("evento")
    model: type[CallbackEvent] = CallbackEvent
    if event in _CALL_EVENTS:
        model = CallEvent
    elif event in _MESSAGE_EVENTS:
        model = MessageEvent
    try:
        return model.model_validate(data, context={"zone": ZoneInfo(timezone)})
    except ValidationError as error:
        raise InvalidPayload(f"callback data does not have the expected shape: {error}") from None


def _data_object(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        data = body.get("data")
        if isinstance(data, list):  # parse_qs-style values
            data = data[0] if data else None
        value: Any = _json(data) if isinstance(data, str | bytes) else dict(body)
    else:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        stripped = text.lstrip()
        if stripped.startswith("{"):
            value = _json(stripped)
        else:
            fields = parse_qs(stripped, keep_blank_values=True)
            if "data" not in fields:
                raise InvalidPayload("callback body has no 'data' form field")
            value = _json(fields["data"][0])
    if not isinstance(value, dict):
        raise InvalidPayload("callback 'data' is not a JSON object")
    return value


def _json(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidPayload(f"callback 'data' is not valid JSON: {error}") from None
