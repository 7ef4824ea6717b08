"""One HTTP attempt: POST the signed body, read at most a few KB back, report what happened.

The HTTP itself is :mod:`ramal.delivery.http1` (why not aiohttp or httpx: its docstring). Redirects
are not followed (a 3xx is a failed attempt: following it would let a public URL bounce the request
to a private one), and the address of every connection is checked by the SSRF guard.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from ramal.delivery.guard import AddressGuard, CallbackTarget, UnsafeTarget
from ramal.delivery.http1 import ConnectionPool, Disconnected, InvalidResponse, encode_request, origin_of

SNIPPET_BYTES = 512  # kept in the delivery log
USER_AGENT = "ramal-webhooks/1"
# Sent with every attempt. ``accept-encoding: identity``: the log keeps the answer's first bytes as
# they come, so no compressed stream is invited.
_FIXED_HEADERS = {
    "content-type": "application/x-www-form-urlencoded",
    "user-agent": USER_AGENT,
    "accept-encoding": "identity",
}


class Response(NamedTuple):
    """What came back: an HTTP status, or an error (timeout, refused, blocked...). A NamedTuple, as
    the step's records (deliveries.py): one is made per attempt."""

    status: int | None
    latency_seconds: float
    snippet: str | None = None
    error: str | None = None
    retry_after: float | None = None


class Sender:
    def __init__(
        self,
        guard: AddressGuard,
        *,
        connect_timeout: float,
        total_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.total_timeout = total_timeout
        self._pool = ConnectionPool(
            guard, connect_timeout=connect_timeout, snippet_limit=SNIPPET_BYTES, ssl_context=ssl_context
        )

    async def close(self) -> None:
        self._pool.close()

    async def post(self, target: CallbackTarget, body: bytes, headers: dict[str, str]) -> Response:
        started = time.perf_counter()
        try:
            headers = {**_FIXED_HEADERS, **headers}
            if target.username is not None:
                headers["authorization"] = basic_auth(target.username, target.password or "")
            origin = origin_of(target.url)
            deadline = asyncio.get_running_loop().time() + self.total_timeout
            answer = await self._pool.post(origin, encode_request(origin, headers, body), deadline)
        except UnsafeTarget as refusal:
            error = f"bloqueado: {refusal}"
        except TimeoutError:
            error = "timeout"
        except Disconnected:
            error = "conexao encerrada pelo destino"
        except InvalidResponse as invalid:
            error = f"resposta HTTP invalida: {invalid}"[:300]
        except OSError as failure:
            error = f"falha de conexao: {failure}"[:300]
        else:
            return Response(
                answer.status,
                time.perf_counter() - started,
                logged_text(answer.snippet),
                retry_after=retry_after_seconds(answer.retry_after),
            )
        return Response(None, time.perf_counter() - started, error=error)


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` value for credentials taken from the URL (UTF-8, as RFC 7617 suggests)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def logged_text(raw: bytes) -> str:
    """A receiver's bytes as text the delivery log can store on either database: invalid UTF-8 and
    NUL (which PostgreSQL's text refuses, failing the whole step's write) become U+FFFD."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date; ``None`` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
