"""A lean HTTP/1.1 client for webhook POSTs: kept-alive connections on asyncio transports, answers
parsed by httptools (uvicorn's C parser).

Written here rather than taken from a library for the numbers: a worker is bound by the CPU its
posts cost, and on this machine one POST through aiohttp's ``ClientSession`` (what ramal used first)
costs 97-160 us of CPU, through this client 22-35 us (``bench/callbacks.py`` prints both ceilings;
docs/benchmarks.md); httpx's pooled ``AsyncClient`` manages ~200 posts/s at 64 in flight
(limits.md §3). A webhook needs little of a general client: one method, no redirects (never
followed: a 3xx could bounce the request to a private address), no cookies, proxies or compression,
and only the first bytes of the answer. What it must get right is all here: connect and total
deadlines, keep-alive reuse, a long answer cut off (never drained), TLS, and the SSRF guard applied
to the very address each connection goes to (:meth:`ConnectionPool._addresses`), so a name
re-pointed at an internal address after registration is refused (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, cast
from urllib.parse import quote, urlsplit

import httptools

from ramal.delivery.guard import AddressGuard, UnsafeTarget, literal_address

IDLE_SECONDS = 4.0  # below the 5 s keep-alive of common servers (uvicorn, Node), so they rarely race us
RESOLVE_TTL = 10.0  # how long a name's checked addresses are reused
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"  # kept as they are; anything else (spaces, non-ASCII) is escaped


class Disconnected(ConnectionError):
    """The receiver closed the connection before its answer's status line and headers."""


class InvalidResponse(ValueError):
    """What came back is not HTTP/1.x."""


class Answer(NamedTuple):
    status: int
    snippet: bytes  # the body's first bytes (at most the pool's snippet limit)
    retry_after: str | None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a URL's requests go, and the request line and ``Host`` header they carry."""

    scheme: str
    host: str
    port: int
    head: bytes  # b"POST /path?query HTTP/1.1\r\nhost: ...\r\n"

    @property
    def key(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


@lru_cache(maxsize=4096)
def origin_of(url: str) -> Origin:
    """Split a checked callback URL (:func:`parse_callback_url`, no credentials) once per URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    ascii_host = host.encode("idna").decode() if not host.isascii() else host
    host_header = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    if port != default:
        host_header = f"{host_header}:{port}"
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target = f"{target}?{quote(parts.query, safe=_PATH_SAFE + '?')}"
    head = f"POST {target} HTTP/1.1\r\nhost: {host_header}\r\n".encode("ascii")
    return Origin(parts.scheme, ascii_host, port, head)


def encode_request(origin: Origin, headers: dict[str, str], body: bytes) -> bytes:
    """The whole request as bytes: one write per attempt. A header value holding CR or LF (which would
    let it smuggle headers in) is refused."""
    block = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    if block.count("\n") != len(headers) or block.count("\r") != len(headers):
        raise ValueError("header value with a line break")
    return b"%s%scontent-length: %d\r\n\r\n%s" % (origin.head, block.encode("latin-1"), len(body), body)


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self, snippet_limit: int) -> None:
        self.snippet_limit = snippet_limit
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Answer] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._status: int | None = None
        self._snippet = bytearray()
        self._retry_after: str | None = None
        self.answered = False  # any byte of an answer came in: a failure now is no stale connection

    # --- one exchange ----------------------------------------------------------------------------

    def exchange(self, request: bytes, deadline: float) -> asyncio.Future[Answer]:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._status, self._retry_after, self.answered = None, None, False
        self._snippet = bytearray()
        self._deadline = loop.call_at(deadline, self._expire)
        assert self.transport is not None
        self.transport.write(request)
        return self._waiter

    def fresh(self, idle_since: float) -> bool:
        """Open, and idle since after ``idle_since``: worth reusing."""
        return not self.closed and self.idle_since > idle_since

    def _finish(self, *, keep: bool) -> None:
        waiter, self._waiter = self._waiter, None
        if keep:
            self._disarm()
        else:
            self.close()
        if waiter is not None and not waiter.done() and self._status is not None:
            waiter.set_result(Answer(self._status, bytes(self._snippet), self._retry_after))

    def _fail(self, error: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _expire(self) -> None:
        """The total deadline passed: what the receiver said, if it said its status, else a timeout."""
        if self._status is not None:
            self._finish(keep=False)
        else:
            self._fail(TimeoutError())

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def close(self) -> None:
        self.closed = True
        self._disarm()
        if self.transport is not None:
            self.transport.abort()  # nothing more is wanted from it: no lingering, no draining

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes on an idle connection: out of step, not reusable
            self.close()
            return
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(InvalidResponse("upgrade nao solicitado"))
        except httptools.HttpParserError as error:
            self._fail(InvalidResponse(str(error)))

    def eof_received(self) -> bool | None:
        self.closed = True  # never reused from now on, even before connection_lost
        return None  # the transport closes itself; connection_lost ends the exchange

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None:
            return
        if self._status is not None:  # an answer read until close, or cut short: its status stands
            self._finish(keep=False)
        else:
            self._fail(Disconnected())

    # --- httptools callbacks ---------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        room = self.snippet_limit - len(self._snippet)
        self._snippet += body[:room]
        if len(self._snippet) >= self.snippet_limit:
            self._finish(keep=False)  # the rest is not wanted: hang up rather than drain it

    def on_message_complete(self) -> None:
        if self._status is not None and 100 <= self._status < 200:  # an interim answer (100, 103)
            self._status = None
            return
        self._finish(keep=self.parser.should_keep_alive())


class ConnectionPool:
    """Connections by origin (scheme, host, port), reused while fresh, one request at a time each.

    How many are open at once is bounded by the caller (the dispatcher's slots), so the pool keeps
    every connection it gets back, and closes one idle for longer than ``idle_seconds`` (when it is
    next wanted, or at the sweep each ``idle_seconds``, which also forgets origins no longer used).
    """

    def __init__(
        self,
        guard: AddressGuard,
        *,
        connect_timeout: float,
        snippet_limit: int,
        ssl_context: ssl.SSLContext | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.guard = guard
        self.connect_timeout = connect_timeout
        self.snippet_limit = snippet_limit
        self.idle_seconds = idle_seconds
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._resolved: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._next_sweep = 0.0

    async def post(self, origin: Origin, request: bytes, deadline: float) -> Answer:
        """Send ``request`` and read the answer by ``deadline`` (the loop's clock).

        A kept-alive connection the receiver closed while idle fails before any byte comes back;
        the request is then sent once more on a new connection (the receiver may have seen it:
        delivery is at-least-once, and receivers dedupe by ``webhook-id``).
        """
        if asyncio.get_running_loop().time() >= self._next_sweep:
            self._sweep()
        connection = self._reusable(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, request, deadline)
            except Disconnected:
                if connection.answered:
                    raise
        connection = await self._connect(origin, deadline)
        return await self._exchange(origin, connection, request, deadline)

    async def _exchange(
        self, origin: Origin, connection: _Connection, request: bytes, deadline: float
    ) -> Answer:
        try:
            answer = await connection.exchange(request, deadline)
        except BaseException:
            connection.close()  # cancelled or failed: never reused
            raise
        if not connection.closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(origin.key, []).append(connection)
        return answer

    def _reusable(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        if not idle:
            return None
        fresh_since = asyncio.get_running_loop().time() - self.idle_seconds
        while idle:
            connection = idle.pop()  # the most recently used first: the least likely to be stale
            if connection.fresh(fresh_since):
                return connection
            connection.close()
        return None

    def _sweep(self) -> None:
        """Close the idle connections gone stale, and drop origins with none left."""
        now = asyncio.get_running_loop().time()
        self._next_sweep = now + self.idle_seconds
        fresh_since = now - self.idle_seconds
        for key, idle in list(self._idle.items()):
            kept: list[_Connection] = []
            for connection in idle:
                if connection.fresh(fresh_since):
                    kept.append(connection)
                else:
                    connection.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]
        self._resolved = {name: entry for name, entry in self._resolved.items() if entry[0] > now}

    async def _connect(self, origin: Origin, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        budget = min(self.connect_timeout, deadline - loop.time())
        tls = self._tls() if origin.scheme == "https" else None
        async with asyncio.timeout(budget):
            addresses = await self._addresses(origin)
            failure: OSError | None = None
            for address in addresses:
                try:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(self.snippet_limit),
                        address,
                        origin.port,
                        ssl=tls,
                        server_hostname=origin.host if tls is not None else None,
                    )
                except OSError as error:
                    failure = error
                    continue
                return connection
        assert failure is not None
        raise failure

    async def _addresses(self, origin: Origin) -> list[str]:
        """The addresses to try, each allowed by the guard: a literal is checked as it is, a name's
        answers are filtered (and kept for ``RESOLVE_TTL``)."""
        literal = literal_address(origin.host)
        if literal is not None:
            self.guard.check_address(literal)
            return [origin.host]
        loop = asyncio.get_running_loop()
        cached = self._resolved.get((origin.host, origin.port))
        if cached is not None and cached[0] > loop.time():
            return cached[1]
        infos = await loop.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        allowed = []
        for info in infos:
            address = str(info[4][0])
            try:
                self.guard.check_address(address.split("%", 1)[0])
            except UnsafeTarget:
                continue
            if address not in allowed:
                allowed.append(address)
        if not allowed:
            raise UnsafeTarget(f"{origin.host} resolve para endereco nao permitido")
        self._resolved[(origin.host, origin.port)] = (loop.time() + RESOLVE_TTL, allowed)
        return allowed

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # made on first use: loading the system's CAs takes ~10 ms
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
