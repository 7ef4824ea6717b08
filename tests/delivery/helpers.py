"""Shared by the delivery tests: a real HTTP receiver on 127.0.0.1, events, dispatchers, endpoints."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web

from ramal.container import Container
from ramal.delivery.dispatcher import Dispatcher, DispatcherConfig
from ramal.delivery.guard import AddressGuard
from ramal.delivery.schedule import RetrySchedule
from ramal.delivery.sender import Sender
from ramal.services.principal import Principal
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.events import EventRepository, NewEvent
from tests.conftest import Account

LOCAL = AddressGuard.from_setting("127.0.0.0/8")
Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def ok(_: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def data(self) -> dict[str, Any]:
        return orjson.loads(parse_qs(self.body.decode())["data"][0])  # type: ignore[no-any-return]

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1 that records every request, answering per ``behaviour``."""

    behaviour: Behaviour = ok
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self, port: int = 0) -> Receiver:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.received.append(Received(dict(request.headers), body, time.monotonic()))
            return await self.behaviour(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class ThreadedReceiver:
    """A :class:`Receiver` on its own event loop in a thread (for tests driving other processes)."""

    def __init__(self, behaviour: Behaviour = ok, port: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.receiver = Receiver(behaviour)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(port), self.loop).result(10)

    @property
    def url(self) -> str:
        return self.receiver.url

    def stop(self) -> None:
        async def shut_down() -> None:
            await self.receiver.stop()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut_down(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def principal(container: Container, account: Account) -> Principal:
    return container.tokens.authenticate(account.token)


def register(
    container: Container, account: Account, url: str, kind: str = "voice", pin: str | None = None
) -> str:
    container.callbacks.guard = LOCAL
    return container.callbacks.add(principal(container, account), kind, url, pin).code


def pin_id(container: Container, pin: str) -> int:
    with container.database.read() as connection:
        row = AccountRepository(connection).get_pin(pin)
    assert row is not None
    return row.id


def call_payload(call_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "pin": "1234",
        "direction": "outbound",
        "origin": "554130600300",
        "destination": "5511999990000",
        "status": status,
        "created_at": "2026-11-23T12:00:00+00:00",
        "started_at": "2026-11-23T12:00:00+00:00",
        "answered_at": None,
        "ended_at": None,
        "duration_seconds": 0,
        "billable_seconds": 0,
        "end_reason": None,
        "recording_id": None,
        "campos": {"CPF": "000.000.000-00"},
        "final": status in ("completed", "busy", "no_answer", "failed", "canceled"),
        "timezone": "America/Sao_Paulo",
        **extra,
    }


def add_events(
    container: Container,
    account: Account,
    events: list[tuple[str, int, str]],
    *,
    subject_type: str = "call",
) -> list[str]:
    """Append ``(subject_id, sequence, status)`` events in one transaction, as traffic would."""
    pin = pin_id(container, account.pin)
    ids = []
    now = container.clock.now()
    with container.database.write() as connection:
        repo = EventRepository(connection)
        for subject, sequence, status in events:
            event_id = container.ids.call_id()
            ids.append(event_id)
            prefix = "call" if subject_type == "call" else "message"
            payload = (
                call_payload(subject, status)
                if subject_type == "call"
                else {
                    "message_id": subject,
                    "callerid": subject[:14],
                    "status": status,
                    "timezone": "UTC",
                    "final": status == "delivered",
                    "kind": "sms",
                    "direction": "outbound",
                }
            )
            repo.append(
                NewEvent(
                    event_id,
                    account.account_id,
                    pin,
                    subject_type,
                    subject,
                    f"{prefix}.{status}",
                    sequence,
                    payload,
                    now,
                )
            )
    return ids


def dispatcher(
    container: Container, *, total_timeout: float = 2.0, guard: AddressGuard = LOCAL, **config: Any
) -> Dispatcher:
    sender = Sender(guard, connect_timeout=1.0, total_timeout=total_timeout)
    settings = {"public_base_url": "http://ramal.test", "lease": timedelta(seconds=30), **config}
    made = Dispatcher(
        container.database, container.clock, sender, RetrySchedule(jitter=0.0), DispatcherConfig(**settings)
    )
    CREATED.append(made)
    return made


CREATED: list[Dispatcher] = []


async def close_dispatchers() -> None:
    while CREATED:
        await CREATED.pop().close()


async def proxy_error(_: web.Request) -> web.StreamResponse:
    return web.Response(status=502, text="Bad Gateway from the customer's proxy")


@asynccontextmanager
async def running_receiver(behaviour: Behaviour = ok) -> AsyncIterator[Receiver]:
    """A started receiver (a fixture's body): on exit, the dispatchers made meanwhile close first."""
    running = await Receiver(behaviour).start()
    try:
        yield running
    finally:
        await close_dispatchers()
        await running.stop()


async def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition`` every 10 ms for up to ``seconds``; returns the time it took."""
    started = time.monotonic()
    for _ in range(int(seconds / 0.01)):
        if condition():
            break
        await asyncio.sleep(0.01)
    return time.monotonic() - started
