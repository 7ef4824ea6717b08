"""The delivery engine against real HTTP receivers on 127.0.0.1, on both databases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update

from ramal.clock import ManualClock
from ramal.container import Container
from ramal.delivery.guard import AddressGuard
from ramal.delivery.signer import verify
from ramal.store.repositories.deliveries import DeliveryFilter, DeliveryRepository
from ramal.store.tables import callback_endpoints, deliveries, events
from tests.conftest import Account
from tests.delivery.helpers import (
    Receiver,
    add_events,
    call_payload,
    dispatcher,
    principal,
    register,
    running_receiver,
    wait_until,
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


def states(container: Container) -> list[tuple[str, int]]:
    with container.database.read() as connection:
        rows = connection.execute(select(deliveries.c.state, deliveries.c.attempts).order_by(deliveries.c.id))
        return [(row.state, row.attempts) for row in rows]


def endpoint_state(container: Container, code: str) -> str:
    with container.database.read() as connection:
        return str(
            connection.execute(
                select(callback_endpoints.c.state).where(callback_endpoints.c.code == code)
            ).scalar()
        )


async def test_delivers_signed_form_with_ids_sequence_and_basic_auth(
    container: Container, account: Account, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "http://joao:s%40gredo@")
    code = register(container, account, url)
    [event_id] = add_events(container, account, [("call-1", 1, "answered")])
    assert await dispatcher(container).run_once() > 0
    [got] = receiver.received
    assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert got.headers["Authorization"] == "Basic am9hbzpzQGdyZWRv"  # joao:s@gredo
    assert got.headers["webhook-id"] == event_id
    assert got.headers["ramal-sequence"] == "1"
    assert got.data["callerid"] == "call-1"
    assert got.data["status"] == "atendida"
    assert got.data["campos"] == {"CPF": "000.000.000-00"}
    secret = container.callbacks.secret(code).secret
    timestamp = int(got.headers["webhook-timestamp"])
    assert verify(secret, event_id, timestamp, got.body, got.headers["webhook-signature"])
    assert not verify(secret, event_id, timestamp + 1, got.body, got.headers["webhook-signature"])
    assert states(container) == [("delivered", 1)]


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock
) -> None:
    code = register(container, account, receiver.url)
    old = container.callbacks.secret(code).secret
    new = container.callbacks.rotate_secret(code).secret
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container).run_once()
    got = receiver.received[-1]
    signature, timestamp = got.headers["webhook-signature"], int(got.headers["webhook-timestamp"])
    assert len(signature.split()) == 2
    assert verify(old, got.event_id, timestamp, got.body, signature)
    assert verify(new, got.event_id, timestamp, got.body, signature)
    clock.advance(hours=25)  # past the 24 h overlap: only the new secret signs
    add_events(container, account, [("call-2", 1, "answered")])
    await dispatcher(container).run_once()
    got = receiver.received[-1]
    signature, timestamp = got.headers["webhook-signature"], int(got.headers["webhook-timestamp"])
    assert len(signature.split()) == 1
    assert verify(new, got.event_id, timestamp, got.body, signature)
    assert not verify(old, got.event_id, timestamp, got.body, signature)


@pytest.mark.parametrize("step_on_loop", [False, True], ids=["step-in-thread", "step-on-loop"])
async def test_one_calls_events_arrive_in_order_even_when_the_first_fails(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock, step_on_loop: bool
) -> None:
    failures = {"left": 1}

    async def flaky(_: web.Request) -> web.StreamResponse:
        if failures["left"]:
            failures["left"] -= 1
            return web.Response(status=500, text="boom")
        return web.Response(text="ok")

    receiver.behaviour = flaky
    register(container, account, receiver.url)
    add_events(
        container,
        account,
        [
            ("call-1", 1, "ringing"),
            ("call-1", 2, "answered"),
            ("call-1", 3, "completed"),
            ("call-2", 1, "ringing"),
        ],
    )
    engine = dispatcher(container, step_on_loop=step_on_loop)
    await engine.run_once()  # call-1 #1 fails (500); call-2 #1 goes; call-1 #2 and #3 must wait
    assert sorted((r.data["callerid"], r.headers["ramal-sequence"]) for r in receiver.received) == [
        ("call-1", "1"),
        ("call-2", "1"),
    ]
    clock.advance(5)
    for _ in range(3):
        await engine.run_once()
    call_1 = [int(r.headers["ramal-sequence"]) for r in receiver.received if r.data["callerid"] == "call-1"]
    assert call_1 == [1, 1, 2, 3]
    final = [r.data["final"] for r in receiver.received if r.data["callerid"] == "call-1"]
    assert final == [False, False, False, True]


async def test_500_retries_on_the_schedule_then_fails_is_logged_and_replayable(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock
) -> None:
    async def broken(_: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="upstream exploded" + "x" * 5000)

    receiver.behaviour = broken
    code = register(container, account, receiver.url)
    [event_id] = add_events(container, account, [("call-1", 1, "completed")])
    engine = dispatcher(container)
    waits = [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200]
    await engine.run_once()
    for wait in waits:
        clock.advance(wait - 1)
        await engine.run_once()
        assert len(receiver.received) == waits.index(wait) + 1  # not yet due
        clock.advance(1)
        await engine.run_once()
    assert len(receiver.received) == 10
    assert states(container) == [("failed", 10)]
    [logged] = container.delivery_log.find(DeliveryFilter(failed_only=True))
    assert logged.delivery.last_status_code == 500
    assert [a.status_code for a in logged.attempts] == [500] * 10
    assert logged.attempts[0].response_snippet is not None
    assert len(logged.attempts[0].response_snippet) <= 512
    receiver.behaviour = lambda _: _ok()
    assert container.delivery_log.replay(DeliveryFilter(event_id=event_id, endpoint_code=code)) == 1
    await engine.run_once()
    assert states(container) == [("delivered", 1)]
    assert len(receiver.received) == 11


async def _ok() -> web.StreamResponse:
    return web.Response(text="ok")


async def test_a_cookie_a_receiver_sets_is_never_sent_back(
    container: Container, account: Account, receiver: Receiver
) -> None:
    """Webhooks carry no cookies: one set by a receiver (perhaps another tenant's on the same host)
    must not ride along on the next delivery."""

    async def sets_cookie(_: web.Request) -> web.StreamResponse:
        response = web.Response(text="ok")
        response.set_cookie("session", "tenant-a-secret")
        return response

    receiver.behaviour = sets_cookie
    # By name: aiohttp's default jar ignores cookies from IP addresses, so 127.0.0.1 would hide a jar.
    register(container, account, receiver.url.replace("127.0.0.1", "localhost"))
    sender = dispatcher(container)
    add_events(container, account, [("call-1", 1, "answered")])
    await sender.run_once()
    add_events(container, account, [("call-2", 1, "answered")])
    await sender.run_once()
    assert [got.headers.get("Cookie") for got in receiver.received] == [None, None]


async def test_redirect_is_not_followed(container: Container, account: Account, receiver: Receiver) -> None:
    async def moved(_: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    receiver.behaviour = moved
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container).run_once()
    assert len(receiver.received) == 1
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert logged.delivery.state == "pending"
    assert logged.delivery.last_error == "HTTP 301"


async def test_410_disables_the_endpoint_keeps_the_event_and_resume_resends(
    container: Container, account: Account, receiver: Receiver
) -> None:
    async def gone(_: web.Request) -> web.StreamResponse:
        return web.Response(status=410)

    receiver.behaviour = gone
    code = register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    engine = dispatcher(container)
    await engine.run_once()
    assert endpoint_state(container, code) == "disabled"
    attempts_before = len(receiver.received)
    await engine.run_once()
    assert len(receiver.received) == attempts_before  # disabled: nothing sent
    receiver.behaviour = lambda _: _ok()
    assert container.callbacks.resume(code) == 2
    await engine.run_once()
    assert [s for s, _ in states(container)] == ["delivered", "delivered"]


async def test_429_retry_after_is_honoured(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock
) -> None:
    async def slow_down(_: web.Request) -> web.StreamResponse:
        return web.Response(status=429, headers={"Retry-After": "120"})

    receiver.behaviour = slow_down
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    engine = dispatcher(container)
    await engine.run_once()
    with container.database.read() as connection:
        due = connection.execute(select(deliveries.c.next_attempt_at)).scalar_one()
    assert due == clock.now() + timedelta(seconds=120)
    clock.advance(119)
    await engine.run_once()
    assert len(receiver.received) == 1
    clock.advance(1)
    await engine.run_once()
    assert len(receiver.received) == 2


async def test_closed_connection_and_hang_are_retried(
    container: Container, account: Account, receiver: Receiver
) -> None:
    async def hang_up(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async def hang(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response()

    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    receiver.behaviour = hang_up
    await dispatcher(container).run_once()
    receiver.behaviour = hang
    add_events(container, account, [("call-2", 1, "answered")])
    started = time.monotonic()
    await dispatcher(container, total_timeout=0.5).run_once()
    assert time.monotonic() - started < 5
    errors = sorted(str(d.delivery.last_error) for d in container.delivery_log.find(DeliveryFilter()))
    assert errors == ["conexao encerrada pelo destino", "timeout"]
    assert [s for s, _ in states(container)] == ["pending", "pending"]


async def test_the_logged_response_is_readable_text_not_a_compressed_stream(
    container: Container, account: Account, receiver: Receiver
) -> None:
    """The log keeps the response's first bytes undecoded, so the request must not invite a
    receiver to compress them (aiohttp offers gzip by default)."""

    async def compressing(_: web.Request) -> web.StreamResponse:
        response = web.Response(text="recebido " * 40)
        response.enable_compression()  # compresses when the request's Accept-Encoding allows it
        return response

    receiver.behaviour = compressing
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container).run_once()
    assert receiver.received[0].headers["Accept-Encoding"] == "identity"
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert logged.attempts[0].response_snippet == ("recebido " * 40)


async def test_a_response_with_nul_bytes_is_logged_not_fatal(
    container: Container, account: Account, receiver: Receiver
) -> None:
    """PostgreSQL's text refuses NUL: stored raw, it failed the step's whole write, every step."""

    async def binary(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"ok\x00\xff\x00fim")

    receiver.behaviour = binary
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container).run_once()
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert logged.delivery.state == "delivered"
    assert logged.attempts[0].response_snippet == "ok\ufffd\ufffd\ufffdfim"


async def test_an_event_that_cannot_be_rendered_fails_alone(
    container: Container, account: Account, receiver: Receiver
) -> None:
    register(container, account, receiver.url)
    broken, fine = add_events(container, account, [("call-1", 1, "answered"), ("call-2", 1, "answered")])
    with container.database.write() as connection:  # a row no renderer can read: an unknown zone
        connection.execute(
            update(events)
            .where(events.c.id == broken)
            .values(payload={**call_payload("call-1", "answered"), "timezone": "Nowhere/Atlantis"})
        )
    await dispatcher(container).run_once()
    assert [got.event_id for got in receiver.received] == [fine]
    by_event = {d.delivery.event_id: d.delivery for d in container.delivery_log.find(DeliveryFilter())}
    assert by_event[fine].state == "delivered"
    assert (by_event[broken].state, by_event[broken].attempts) == ("pending", 1)
    assert by_event[broken].last_error == "erro interno: o evento nao pode ser montado"


async def test_huge_response_body_is_not_buffered(
    container: Container, account: Account, receiver: Receiver
) -> None:
    sent = {"bytes": 0}

    async def firehose(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_length = 50 * 1024 * 1024
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            for _ in range(800):
                await response.write(chunk)
                sent["bytes"] += len(chunk)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    receiver.behaviour = firehose
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    started = time.monotonic()
    await dispatcher(container).run_once()
    assert time.monotonic() - started < 5
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert logged.delivery.state == "delivered"
    assert len(logged.attempts[0].response_snippet or "") <= 512
    await asyncio.sleep(0.2)
    assert sent["bytes"] < 10 * 1024 * 1024  # the sender hung up long before 50 MB


async def test_failing_for_days_pauses_then_resume_sends_the_backlog(
    container: Container, account: Account, receiver: Receiver, clock: ManualClock
) -> None:
    async def down(_: web.Request) -> web.StreamResponse:
        return web.Response(status=503)

    receiver.behaviour = down
    code = register(container, account, receiver.url)
    owner = principal(container, account)
    engine = dispatcher(container, pause_after=timedelta(hours=72))
    for day in range(4):
        add_events(container, account, [(f"call-{day}", 1, "answered")])
        await engine.run_once()
        clock.advance(hours=25)
    assert endpoint_state(container, code) == "paused"
    listed = container.callbacks.list_endpoints(owner, "voice")
    assert listed[0].state == "paused"
    assert listed[0].state_reason
    tried = len(receiver.received)
    add_events(container, account, [("call-late", 1, "answered")])
    await engine.run_once()
    assert len(receiver.received) == tried  # paused: kept, not sent
    receiver.behaviour = lambda _: _ok()
    backlog = container.callbacks.resume(code)
    assert backlog == 5
    await engine.run_once()
    assert sorted(s for s, _ in states(container)) == ["delivered"] * 5


async def test_dns_rebinding_is_refused_at_delivery(
    container: Container, account: Account, receiver: Receiver
) -> None:
    register(container, account, f"http://localhost:{receiver.port}/hook")  # allowed when registered
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container, guard=AddressGuard()).run_once()  # no allow-list at delivery time
    assert receiver.received == []
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert "nao permitido" in str(logged.delivery.last_error)


async def test_literal_private_address_is_refused_at_delivery(
    container: Container, account: Account, receiver: Receiver
) -> None:
    register(container, account, receiver.url)
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container, guard=AddressGuard()).run_once()
    assert receiver.received == []
    [logged] = container.delivery_log.find(DeliveryFilter())
    assert str(logged.delivery.last_error).startswith("bloqueado")


async def test_kinds_and_pins_route_events(
    container: Container, account: Account, receiver: Receiver
) -> None:
    other_pin = container.accounts.add_pin(str(account.account_id), numbers=["554130600399"]).pin
    register(container, account, receiver.url + "/voice-all")
    register(container, account, receiver.url + "/voice-other-pin", pin=other_pin)
    register(container, account, receiver.url + "/sms", kind="sms")
    add_events(container, account, [("call-1", 1, "answered")])
    add_events(container, account, [("msg-1", 1, "delivered")], subject_type="message")
    await dispatcher(container).run_once()
    paths = sorted((r.headers["ramal-event-type"], r.data.get("status")) for r in receiver.received)
    assert paths == [("call.answered", "atendida"), ("message.delivered", "entregue")]


async def test_removed_endpoint_gets_nothing_new(
    container: Container, account: Account, receiver: Receiver
) -> None:
    async def down(_: web.Request) -> web.StreamResponse:
        return web.Response(status=500)

    receiver.behaviour = down
    code = register(container, account, receiver.url)
    add_events(container, account, [("call-0", 1, "answered")])
    await dispatcher(container).run_once()  # fails: pending, waiting for a retry
    container.callbacks.remove(container.tokens.authenticate(account.token), "voice", code)
    assert states(container) == [("gone", 1)]  # no longer queued, still in the log
    add_events(container, account, [("call-1", 1, "answered")])
    await dispatcher(container).run_once()
    assert len(receiver.received) == 1
    assert states(container) == [("gone", 1)]


@pytest.mark.parametrize("step_on_loop", [False, True], ids=["step-in-thread", "step-on-loop"])
async def test_a_hanging_endpoint_does_not_slow_another(
    container: Container, account: Account, receiver: Receiver, step_on_loop: bool
) -> None:
    async def hang(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(10)
        return web.Response()

    stuck = await Receiver(hang).start()
    try:
        register(container, account, stuck.url)
        register(container, account, receiver.url)
        add_events(container, account, [(f"call-{i}", 1, "answered") for i in range(40)])
        engine = dispatcher(
            container, total_timeout=5.0, endpoint_concurrency=4, concurrency=16, step_on_loop=step_on_loop
        )
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run_forever(stop))
        elapsed = await wait_until(lambda: len(receiver.received) >= 40, 4)
        stop.set()
        await task
    finally:
        await stuck.stop()
    assert len(receiver.received) == 40
    assert elapsed < 2.0, elapsed
    assert len(stuck.received) <= 8  # capped per endpoint: the hanging one holds few slots


def test_a_claim_handed_back_is_claimable_again_at_once_but_only_by_its_owner(
    container: Container, account: Account
) -> None:
    register(container, account, "http://127.0.0.1:9/hook")
    add_events(container, account, [("call-1", 1, "answered")])
    now, lease = container.clock.now(), timedelta(seconds=60)

    def claim(owner: str) -> list[int]:
        with container.database.write() as connection:
            repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
            repo.fan_out(now, 10)
            return [c.id for c in repo.claim(now, owner, lease, 10)]

    def give_back(ids: list[int], owner: str) -> None:
        with container.database.write() as connection:
            DeliveryRepository(connection, postgresql=container.database.is_postgresql).give_back(ids, owner)

    [held] = claim("worker-a")
    assert claim("worker-b") == []  # leased
    give_back([held], "worker-b")  # not its lease: nothing changes
    assert claim("worker-b") == []
    give_back([held], "worker-a")
    assert claim("worker-b") == [held]


def test_only_a_worker_process_on_sqlite_steps_on_its_event_loop(container: Container) -> None:
    alone = container.dispatcher(own_process=True)
    beside_the_api = container.dispatcher()
    assert alone.config.step_on_loop is not container.database.is_postgresql
    assert beside_the_api.config.step_on_loop is False


def test_two_steps_run_at_once_only_on_postgresql(container: Container) -> None:
    expected = 2 if container.database.is_postgresql else 1  # SQLite has one write lock to queue for
    assert container.dispatcher(own_process=True).config.steps_in_flight == expected
    assert container.dispatcher().config.steps_in_flight == expected


def test_a_postgresql_worker_claims_further_ahead(container: Container) -> None:
    """Five times the in-flight limits held on PostgreSQL (its steps stall now and then), two on
    SQLite (one step at a time, on the process's own database)."""
    engine = container.dispatcher(own_process=True)
    expected = 5 if container.database.is_postgresql else 2
    assert engine._slots.ahead == expected
    budget = engine._slots.budget()
    assert budget.free == expected * engine.config.concurrency
    assert budget.default_room == expected * engine.config.endpoint_concurrency
