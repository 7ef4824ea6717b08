"""The webhook HTTP/1.1 client against raw socket servers: the exact bytes a receiver may send back,
including the ones no well-behaved framework would (interim answers, no length, garbage)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme

from ramal.delivery.guard import AddressGuard, UnsafeTarget
from ramal.delivery.http1 import (
    Answer,
    ConnectionPool,
    Disconnected,
    InvalidResponse,
    encode_request,
    origin_of,
)

LOCAL = AddressGuard.from_setting("127.0.0.0/8")
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Server:
    """Counts connections and requests; ``handler`` answers each request (given its number)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.hung_up = 0  # connections the client closed
        self.requests: list[bytes] = []
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                length = next(int(line[15:]) for line in lines if line.startswith(b"content-length:"))
                self.requests.append(head + await reader.readexactly(length))
                await self.handler(reader, writer, len(self.requests))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.hung_up += 1
        finally:
            writer.close()


@asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def answering(*replies: bytes, close: bool = False) -> Handler:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        for reply in replies:
            writer.write(reply)
        await writer.drain()
        if close:
            writer.close()

    return handler


def pool(**options: float) -> ConnectionPool:
    return ConnectionPool(LOCAL, connect_timeout=1.0, snippet_limit=16, **options)  # type: ignore[arg-type]


async def post(engine: ConnectionPool, url: str, seconds: float = 2.0) -> Answer:
    origin = origin_of(url)
    request = encode_request(origin, {"webhook-id": "e1"}, b"data=%7B%7D")
    return await engine.post(origin, request, asyncio.get_running_loop().time() + seconds)


async def test_a_connection_is_kept_alive_and_reused() -> None:
    async with serving(answering(OK)) as server:
        engine = pool()
        url = f"http://127.0.0.1:{server.port}/hook?x=1"
        assert [await post(engine, url) for _ in range(3)] == [Answer(200, b"ok", None)] * 3
        assert server.connections == 1
        assert server.requests[0].startswith(b"POST /hook?x=1 HTTP/1.1\r\nhost: 127.0.0.1:")
        assert server.requests[0].endswith(b"content-length: 11\r\n\r\ndata=%7B%7D")
        engine.close()


async def test_connection_close_and_idle_age_mean_a_new_connection() -> None:
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    async with serving(answering(closing)) as server:
        engine = pool()
        for _ in range(2):
            await post(engine, f"http://127.0.0.1:{server.port}/")
        assert server.connections == 2
    async with serving(answering(OK)) as server:
        engine = pool(idle_seconds=0.0)
        for _ in range(2):
            await post(engine, f"http://127.0.0.1:{server.port}/")
        assert server.connections == 2


async def test_connections_idle_too_long_are_closed_and_their_origin_forgotten() -> None:
    async with serving(answering(OK)) as first, serving(answering(OK)) as second:
        engine = pool(idle_seconds=0.05)
        await post(engine, f"http://127.0.0.1:{first.port}/")
        await asyncio.sleep(0.1)
        await post(engine, f"http://127.0.0.1:{second.port}/")  # the next post sweeps
        await asyncio.sleep(0.05)
        assert first.hung_up == 1
        assert list(engine._idle) == [("http", "127.0.0.1", second.port)]


async def test_a_kept_alive_connection_closed_unanswered_is_retried_once_on_a_new_one() -> None:
    async def second_hangs_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        if n == 2:
            writer.transport.abort()  # as a server whose keep-alive ran out as the request came in
            return
        writer.write(OK)
        await writer.drain()

    async with serving(second_hangs_up) as server:
        engine = pool()
        url = f"http://127.0.0.1:{server.port}/"
        assert [(await post(engine, url)).status for _ in range(2)] == [200, 200]
        assert (server.connections, len(server.requests)) == (2, 3)


async def test_a_new_connection_closed_unanswered_is_not_retried() -> None:
    async def hangs_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.transport.abort()

    async with serving(hangs_up) as server:
        with pytest.raises(Disconnected):
            await post(pool(), f"http://127.0.0.1:{server.port}/")
        assert len(server.requests) == 1


async def test_answers_without_length_chunked_and_after_an_interim_one() -> None:
    until_close = answering(b"HTTP/1.1 201 Created\r\n\r\nuntil close", close=True)
    chunked = answering(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    interim = answering(b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 429 Slow\r\nretry-after: 7\r\n", b"\r\n")
    expected = [Answer(201, b"until close", None), Answer(200, b"abcde", None), Answer(429, b"", "7")]
    for handler, answer in zip((until_close, chunked, interim), expected, strict=True):
        async with serving(handler) as server:
            assert await post(pool(), f"http://127.0.0.1:{server.port}/") == answer


async def test_a_long_answer_is_cut_at_the_snippet_and_its_connection_dropped() -> None:
    async def firehose(_: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000\r\n\r\n" + b"x" * 100)
        await writer.drain()
        await asyncio.sleep(5)

    async with serving(firehose) as server:
        engine = pool()
        started = asyncio.get_running_loop().time()
        assert await post(engine, f"http://127.0.0.1:{server.port}/") == Answer(200, b"x" * 16, None)
        assert asyncio.get_running_loop().time() - started < 1
        assert engine._idle.get(("http", "127.0.0.1", server.port)) in (None, [])


async def test_at_the_deadline_a_status_stands_and_silence_is_a_timeout() -> None:
    async def status_then_stall(_: asyncio.StreamReader, writer: asyncio.StreamWriter, _n: int) -> None:
        writer.write(b"HTTP/1.1 503 Busy\r\ncontent-length: 100\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)

    async def silent(*_: object) -> None:
        await asyncio.sleep(5)

    async with serving(status_then_stall) as server:
        assert await post(pool(), f"http://127.0.0.1:{server.port}/", 0.3) == Answer(503, b"abc", None)
    async with serving(silent) as server:
        with pytest.raises(TimeoutError):
            await post(pool(), f"http://127.0.0.1:{server.port}/", 0.3)


async def test_garbage_is_an_invalid_response() -> None:
    async with serving(answering(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        with pytest.raises(InvalidResponse):
            await post(pool(), f"http://127.0.0.1:{server.port}/")


async def test_a_refused_connection_is_an_os_error() -> None:
    async with serving(answering(OK)) as server:
        port = server.port
    with pytest.raises(OSError, match=r"111|refused"):
        await post(pool(), f"http://127.0.0.1:{port}/")


async def test_tls_is_verified_against_the_name() -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    async with serving(answering(OK), tls=server_tls) as server:
        engine = ConnectionPool(LOCAL, connect_timeout=1.0, snippet_limit=16, ssl_context=client_tls)
        assert (await post(engine, f"https://localhost:{server.port}/")).status == 200
        with pytest.raises(ssl.SSLCertVerificationError):  # the certificate names localhost only
            await post(engine, f"https://127.0.0.1:{server.port}/")
        untrusting = ConnectionPool(LOCAL, connect_timeout=1.0, snippet_limit=16)
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(untrusting, f"https://localhost:{server.port}/")


async def test_every_connection_goes_through_the_guard() -> None:
    async with serving(answering(OK)) as server:
        guarded = ConnectionPool(AddressGuard(), connect_timeout=1.0, snippet_limit=16)
        with pytest.raises(UnsafeTarget, match="localhost resolve para endereco nao permitido"):
            await post(guarded, f"http://localhost:{server.port}/")
        with pytest.raises(UnsafeTarget, match="loopback"):
            await post(guarded, f"http://127.0.0.1:{server.port}/")
        assert server.requests == []


def test_request_line_and_host_are_escaped_and_headers_cannot_smuggle_lines() -> None:
    assert origin_of("http://exemplo.com.br/olá mundo?q=a b").head == (
        b"POST /ol%C3%A1%20mundo?q=a%20b HTTP/1.1\r\nhost: exemplo.com.br\r\n"
    )
    assert origin_of("https://ação.com.br:8443/").head.endswith(b"host: xn--ao-siap.com.br:8443\r\n")
    assert origin_of("http://[::1]:8080/").head.endswith(b"host: [::1]:8080\r\n")
    origin = origin_of("http://exemplo.com.br/")
    with pytest.raises(ValueError, match="line break"):
        encode_request(origin, {"ramal-event-type": "call.answered\r\nx-evil: 1"}, b"")
