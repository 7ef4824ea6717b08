"""One HTTP attempt: POST the signed body, read at most a few KB back, report what happened.

aiohttp, not httpx: on this machine httpx's pooled AsyncClient falls to ~200 requests/s at 64 in
flight while aiohttp sustains ~2.5k (limits.md §3). Redirects are not followed (a 3xx is a failed
attempt: following it would let a public URL bounce the request to a private one). The address each
connection goes to is checked by :class:`GuardedResolver` (names) or before the request (literals),
so a name re-pointed at an internal address after registration is refused (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ramal.delivery.guard import AddressGuard, CallbackTarget, UnsafeTarget

SNIPPET_BYTES = 512  # kept in the delivery log
USER_AGENT = "ramal-webhooks/1"


class Response(NamedTuple):
    """What came back: an HTTP status, or an error (timeout, refused, blocked...). A NamedTuple, as
    the step's records (deliveries.py): one is made per attempt."""

    status: int | None
    latency_seconds: float
    snippet: str | None = None
    error: str | None = None
    retry_after: float | None = None


class GuardedResolver(AbstractResolver):
    """Resolves with the default resolver and keeps only the addresses the guard allows."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        self.inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        allowed = []
        for result in await self.inner.resolve(host, port, family):
            try:
                self.guard.check_address(result["host"].split("%", 1)[0])
            except UnsafeTarget:
                continue
            allowed.append(result)
        if not allowed:
            raise OSError(f"{host} resolve para endereco nao permitido")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


class Sender:
    def __init__(
        self, guard: AddressGuard, *, connect_timeout: float, total_timeout: float, limit: int
    ) -> None:
        self.guard = guard
        self.total_timeout = total_timeout
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._cleared: set[str] = set()  # hosts known to be names or allowed literals

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: it must be made inside the running event loop
            connector = aiohttp.TCPConnector(
                limit=self.limit, limit_per_host=0, resolver=GuardedResolver(self.guard), ttl_dns_cache=10
            )
            # No cookie jar: a cookie one receiver sets must never ride along to another endpoint on
            # the same host (another tenant's, perhaps), nor to the same one: webhooks are stateless.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self.timeout,
                auto_decompress=False,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, target: CallbackTarget, body: bytes, headers: dict[str, str]) -> Response:
        started = time.perf_counter()
        try:
            self._check_literal(target.host)
            if target.username is not None:
                credentials = aiohttp.encode_basic_auth(target.username, target.password or "")
                headers = {**headers, "authorization": credentials}
            async with self._client().post(
                target.url,
                data=body,
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    "user-agent": USER_AGENT,
                    # The log keeps the answer's first bytes as they come: no compressed stream.
                    "accept-encoding": "identity",
                    **headers,
                },
                allow_redirects=False,
            ) as reply:
                snippet = await reply.content.read(SNIPPET_BYTES)
                if not reply.content.at_eof():
                    reply.close()  # never drain a large body: drop the connection instead
                return Response(
                    reply.status,
                    time.perf_counter() - started,
                    logged_text(snippet),
                    retry_after=retry_after_seconds(reply.headers.get("retry-after")),
                )
        except UnsafeTarget as refusal:
            return Response(None, time.perf_counter() - started, error=f"bloqueado: {refusal}")
        except TimeoutError:
            return Response(None, time.perf_counter() - started, error="timeout")
        except (aiohttp.ClientError, OSError) as failure:
            return Response(None, time.perf_counter() - started, error=_describe(failure))

    def _check_literal(self, host: str) -> None:
        """Refuse a forbidden literal address; a host that passed once is not parsed again.

        The guard does not change for the life of a sender and a literal always means the same
        address, so the answer is remembered (one entry per callback host): parsing and checking
        it on every attempt cost more than signing the body.
        """
        if host in self._cleared:
            return
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None  # a name: GuardedResolver checks what it resolves to
        if address is not None:
            self.guard.check_address(address)  # raises for a forbidden one, which is never remembered
        self._cleared.add(host)


def logged_text(raw: bytes) -> str:
    """A receiver's bytes as text the delivery log can store on either database: invalid UTF-8 and
    NUL (which PostgreSQL's text refuses, failing the whole step's write) become U+FFFD."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


def _describe(failure: BaseException) -> str:
    if isinstance(failure, aiohttp.ServerDisconnectedError):
        return "conexao encerrada pelo destino"
    if isinstance(failure, aiohttp.ClientConnectorError):
        return f"falha de conexao: {failure.os_error}"[:300]
    return f"{type(failure).__name__}: {failure}"[:300]


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
