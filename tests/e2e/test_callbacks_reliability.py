"""Reliability of webhook delivery with real processes and a real receiver on 127.0.0.1.

A ``ramal worker`` (or ``ramal serve``) process delivers; the test appends events straight into the
outbox (as traffic does) and watches what the receiver gets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from ramal.container import Container, build_container
from ramal.settings import Settings
from ramal.store.repositories.deliveries import DeliveryFilter
from tests.conftest import Account, make_account
from tests.delivery.helpers import ThreadedReceiver, add_events, register
from tests.e2e.conftest import free_port, start_server, stop_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> Iterator[tuple[Container, Account]]:
    container = build_container(Settings(database_url=database_url, data_dir=tmp_path / "data"))
    yield container, make_account(container, "Acme", admin=True)
    container.close()


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAMAL_DATABASE_URL": database_url,
        "RAMAL_CALLBACK_ALLOW_NETWORKS": "127.0.0.0/8",
        **extra,
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ramal", "worker"], env=env, stdout=out, stderr=out)


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_sigkilled_twice_loses_nothing_keeps_order_and_few_duplicates(
    setup: tuple[Container, Account], database_url: str, tmp_path: Path
) -> None:
    container, account = setup
    receiver = ThreadedReceiver()
    register(container, account, receiver.url)
    env = worker_env(database_url, RAMAL_CALLBACK_LEASE_SECONDS="3", RAMAL_CALLBACK_TOTAL_TIMEOUT_SECONDS="2")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    kills = 0
    try:
        calls, per_call = 1250, 4  # 5,000 events: ringing, answered, completed, then a 4th per call
        statuses = ["ringing", "answered", "completed", "completed"]
        # A steady stream (2 calls = 8 events every ~16 ms, ~500 events/s), as traffic produces it.
        # Duplicates are the deliveries in flight or not yet recorded at each kill.
        step = 2
        for start in range(0, calls, step):
            batch = [
                (f"call-{i}", seq + 1, statuses[seq])
                for i in range(start, min(start + step, calls))
                for seq in range(per_call)
            ]
            add_events(container, account, batch)
            time.sleep(0.008)
            # SIGKILL mid-stream, at one third and two thirds of the events, while deliveries flow
            if kills < 2 and start >= calls * (kills + 1) // 3:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
                worker = start_worker(env, log)
            time.sleep(0.008)
        received = receiver.receiver.received
        assert wait_for(lambda: len({r.event_id for r in received}) >= calls * per_call, 120), (
            log.read_text()[-3000:]
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        receiver.stop()
    assert kills == 2
    counts = Counter(r.event_id for r in received)
    duplicates = sum(counts.values()) - len(counts)
    print(
        f"\n5000 events, 2 SIGKILLs: {len(counts)} delivered, {duplicates} duplicates "
        f"({100 * duplicates / len(counts):.2f} %)"
    )
    assert len(counts) == calls * per_call
    assert duplicates < 0.01 * calls * per_call
    first_seen: dict[str, list[int]] = {}
    seen: set[str] = set()
    for r in received:
        if r.event_id in seen:
            continue
        seen.add(r.event_id)
        first_seen.setdefault(r.headers["ramal-subject-id"], []).append(int(r.headers["ramal-sequence"]))
    assert all(order == [1, 2, 3, 4] for order in first_seen.values())


def test_receiver_down_then_back_gets_everything_on_a_compressed_schedule(
    setup: tuple[Container, Account], database_url: str, tmp_path: Path
) -> None:
    container, account = setup
    port = free_port()
    register(container, account, f"http://127.0.0.1:{port}/hook")
    server = start_server(
        database_url, tmp_path, RAMAL_CALLBACK_ALLOW_NETWORKS="127.0.0.0/8", RAMAL_CALLBACK_RETRY_SCALE="0.01"
    )
    try:
        add_events(container, account, [(f"call-{i}", 1, "answered") for i in range(200)])
        assert wait_for(
            lambda: len(container.delivery_log.find(DeliveryFilter(failed_only=True), 1000)) == 200, 20
        )
        time.sleep(2)  # the receiver stays down through several retries
        receiver = ThreadedReceiver(port=port)
        try:
            delivered = lambda: all(  # noqa: E731
                d.delivery.state == "delivered" for d in container.delivery_log.find(DeliveryFilter(), 1000)
            )
            assert wait_for(delivered, 40)
        finally:
            receiver.stop()
    finally:
        stop_server(server)
    logged = container.delivery_log.find(DeliveryFilter(), 1000)
    assert len(logged) == 200
    assert all(d.delivery.attempts >= 3 for d in logged)  # immediately, +0.05 s, +0.3 s at least failed
    assert all(d.attempts[0].error and "conexao" in d.attempts[0].error for d in logged)
    assert len({r.event_id for r in receiver.receiver.received}) == 200


def test_a_hanging_endpoint_does_not_slow_another(
    setup: tuple[Container, Account], database_url: str, tmp_path: Path
) -> None:
    container, account = setup

    async def hang(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(60)
        return web.Response()

    stuck, healthy = ThreadedReceiver(hang), ThreadedReceiver()
    register(container, account, stuck.url)
    register(container, account, healthy.url)
    worker = start_worker(worker_env(database_url), tmp_path / "worker.log")
    sent: dict[str, float] = {}
    try:
        add_events(container, account, [("warm-up", 1, "answered")])  # measure once the worker runs
        assert wait_for(lambda: len(healthy.receiver.received) >= 1, 30)
        healthy.receiver.received.clear()
        for second in range(30):
            for event_id in add_events(
                container, account, [(f"call-{second}-{i}", 1, "answered") for i in range(10)]
            ):
                sent[event_id] = time.monotonic()
            time.sleep(0.1)
        assert wait_for(lambda: len(healthy.receiver.received) >= 300, 30)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
        stuck.stop()
        healthy.stop()
    latencies = sorted(r.at - sent[r.event_id] for r in healthy.receiver.received)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"\nhealthy endpoint while the other hangs: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 < 1.0
