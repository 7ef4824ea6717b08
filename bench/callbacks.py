"""Webhook delivery benchmark: deliveries/s and event-to-delivery latency, beside a bare aiohttp ceiling.

Starts a receiver (a raw ASGI app on uvicorn, as in limits.md §3) in its own process. Then, per
database (SQLite file, and PostgreSQL with --postgres):

1. ceilings: a bare aiohttp client (64 in flight, on uvloop like the workers) POSTs the same
   signed form bodies ramal sends, and so does ramal's own HTTP client (delivery/http1.py) bare,
   with nothing of the engine around it: what the HTTP alone costs each;
2. throughput: N events are put in the outbox, then 1 (and 2) ``ramal worker`` processes deliver them;
   deliveries/s = N / time until the receiver has seen every event id, set against the aiohttp
   ceiling measured again just before and just after that run (the mean of the two);
3. latency: 1 worker while events are appended at a steady rate (200/s); the receiver computes each
   event's latency from the UUIDv7 event id (its first 48 bits are the creation time in ms).

    python bench/callbacks.py [--events 10000] [--rate 200] [--seconds 15] [--postgres | --postgres-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import uuid_utils
import uvloop

from ramal.container import build_container
from ramal.delivery.guard import AddressGuard
from ramal.delivery.http1 import ConnectionPool, encode_request, origin_of
from ramal.services.principal import Principal
from ramal.settings import Settings
from ramal.store.repositories.events import EventRepository, NewEvent
from ramal.testing.databases import DEFAULT_POSTGRES_URL, PostgresSchema, SqliteTemplate
from ramal.wire.callbacks import render_body

RECEIVER = textwrap.dedent(
    """
    import time, orjson
    seen, latencies = set(), []
    count = 0

    async def app(scope, receive, send):
        global count, latencies
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        if scope["path"] == "/stats":
            lat = sorted(latencies)
            pick = lambda q: lat[min(int(len(lat) * q), len(lat) - 1)] if lat else None
            body = orjson.dumps({"count": count, "unique": len(seen), "p50": pick(0.5), "p99": pick(0.99),
                                 "n": len(lat)})
            if scope["method"] == "POST":
                seen.clear(); latencies = []; count = 0
        else:
            count += 1
            headers = dict(scope["headers"])
            event_id = headers.get(b"webhook-id", b"").decode()
            if event_id:
                seen.add(event_id)
                created_ms = int(event_id.replace("-", "")[:12], 16)
                latencies.append(time.time() * 1000 - created_ms)
            body = b"ok"
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        await send(start)
        await send({"type": "http.response.body", "body": body})
    """
)
PAYLOAD = {
    "call_id": "0193a3c2-7f4e-7c11-9d55-3a1f2b4c5d6e",
    "pin": "1234",
    "direction": "outbound",
    "origin": "554130600300",
    "destination": "5511999990000",
    "status": "answered",
    "created_at": "2026-11-23T12:00:00+00:00",
    "started_at": "2026-11-23T12:00:00+00:00",
    "answered_at": "2026-11-23T12:00:05+00:00",
    "ended_at": None,
    "duration_seconds": 0,
    "billable_seconds": 0,
    "end_reason": None,
    "recording_id": None,
    "campos": {"CPF": "000.000.000-00", "pedido": "98765"},
    "final": False,
    "timezone": "America/Sao_Paulo",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        (workdir / "receiver_app.py").write_text(RECEIVER)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "receiver_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=workdir,
        )
        self.url = f"http://127.0.0.1:{self.port}/hook"
        for _ in range(200):
            try:
                self.stats(reset=True)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def stats(self, reset: bool = False) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.port}/stats"
        answer = httpx.post(url, timeout=5) if reset else httpx.get(url, timeout=5)
        return answer.json()  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _process_cpu(stat: Path) -> tuple[str, float]:
    """A process's name and the user + system CPU seconds it has used so far (its ``/proc`` stat)."""
    text = stat.read_text()
    name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 1 :].split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    return _process_cpu(Path(f"/proc/{pid}/stat"))[1]


async def bare_ceiling(url: str, body: bytes, total: int, concurrency: int = 64) -> tuple[float, float]:
    """The same bodies POSTed by a bare aiohttp client: what one process can push to this receiver.

    Returns posts/s and the client's CPU microseconds per post (steadier than wall time under load).
    """
    headers = {"content-type": "application/x-www-form-urlencoded", "webhook-id": str(uuid_utils.uuid7())}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def post() -> None:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()

        return await _posting(post, total, concurrency)


async def bare_http1_ceiling(url: str, body: bytes, total: int, concurrency: int = 64) -> tuple[float, float]:
    """The same bodies POSTed by ramal's own HTTP client alone (no engine): posts/s, CPU us per post."""
    pool = ConnectionPool(AddressGuard.from_setting("127.0.0.0/8"), connect_timeout=5, snippet_limit=512)
    origin = origin_of(url)
    headers = {"content-type": "application/x-www-form-urlencoded", "webhook-id": str(uuid_utils.uuid7())}
    request = encode_request(origin, headers, body)
    loop = asyncio.get_running_loop()

    async def post() -> None:
        await pool.post(origin, request, loop.time() + 15)

    try:
        return await _posting(post, total, concurrency)
    finally:
        pool.close()


async def _posting(post: Callable[[], Awaitable[None]], total: int, concurrency: int) -> tuple[float, float]:
    left = total

    async def one_worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await post()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), 1e6 * (time.process_time() - cpu) / total


class Scenario:
    """One database with an account, an endpoint on the receiver, and an outbox to fill."""

    def __init__(self, database_url: str, endpoint_url: str) -> None:
        self.database_url = database_url
        self.settings = Settings(database_url=database_url, callback_allow_networks="127.0.0.0/8")
        self.container = build_container(self.settings)
        issued = self.container.accounts.create_account("Bench", admin=True)
        token = self.container.tokens.issue(issued.client_id, issued.client_secret).token
        owner: Principal = self.container.tokens.authenticate(token)
        self.owner = owner
        self.container.callbacks.add(owner, "voice", endpoint_url)

    def append(self, count: int) -> None:
        ids, now = self.container.ids, self.container.clock.now()
        with self.container.database.write() as connection:
            repo = EventRepository(connection)
            for _ in range(count):
                event_id = ids.call_id()
                repo.append(
                    NewEvent(
                        event_id,
                        self.owner.account_id,
                        self.owner.pin_id,
                        "call",
                        event_id,
                        "call.answered",
                        1,
                        PAYLOAD,
                        now,
                    )
                )

    def workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        env = {
            **os.environ,
            "RAMAL_DATABASE_URL": self.database_url,
            "RAMAL_CALLBACK_ALLOW_NETWORKS": "127.0.0.0/8",
            "RAMAL_LOG_LEVEL": "WARNING",
        }
        return [
            subprocess.Popen(
                [sys.executable, "-m", "ramal", "worker"],
                env=env,
                stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(count)
        ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_unique(receiver: Receiver, target: int, limit: float = 300) -> float:
    started = time.perf_counter()
    while receiver.stats()["unique"] < target:
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"only {receiver.stats()['unique']} of {target} delivered in {limit} s")
        time.sleep(0.05)
    return time.perf_counter() - started


def server_cpu_seconds() -> float:
    """CPU time used so far by every PostgreSQL process on this machine (back-ends, WAL writer...)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, seconds = _process_cpu(stat)
        except OSError:
            continue  # a process that ended meanwhile
        if name == "postgres":
            total += seconds
    return total


@dataclass(frozen=True)
class Throughput:
    rate: float  # deliveries/s
    worker_us: float  # the workers' CPU per delivery
    receiver_us: float  # the receiver's
    server_us: float  # PostgreSQL's (0 on SQLite: it runs inside the workers)


def throughput(database_url: str, receiver: Receiver, workers: int, events: int) -> Throughput:
    """Deliveries/s from the first delivery to the last, and who spent how much CPU per delivery.

    The machine's cores are shared by the workers, the receiver and PostgreSQL, so the CPU each
    spends per delivery says what a run is bound by (and what a deployment with the database and
    the receivers on other hosts would leave to the workers).
    """
    scenario = Scenario(database_url, receiver.url)
    for _ in range(events // 1000):
        scenario.append(1000)
    receiver.stats(reset=True)
    processes = scenario.workers(workers)
    try:
        wait_unique(receiver, 1, 120)  # timing starts at the first delivery, not at process start-up
        before = _cpu_now(processes, receiver)
        first = receiver.stats()["unique"]
        elapsed = wait_unique(receiver, events)
        spent = [now - then for now, then in zip(_cpu_now(processes, receiver), before, strict=True)]
    finally:
        stop(processes)
        scenario.container.close()
    delivered = events - first
    return Throughput(delivered / elapsed, *(1e6 * seconds / delivered for seconds in spent))


def _cpu_now(processes: list[subprocess.Popen[bytes]], receiver: Receiver) -> tuple[float, float, float]:
    workers = sum(cpu_seconds(process.pid) for process in processes)
    return workers, cpu_seconds(receiver.process.pid), server_cpu_seconds()


def latency(database_url: str, receiver: Receiver, rate: int, seconds: int) -> dict[str, float]:
    scenario = Scenario(database_url, receiver.url)
    # Forget the throughput run's deliveries, or the two waits below return at once and the reset
    # lands while warm-up events are still queued (their start-up latency then counts in the p99).
    receiver.stats(reset=True)
    processes = scenario.workers(1)
    try:
        scenario.append(1)
        wait_unique(receiver, 1, 60)  # the worker is up
        steady(scenario, rate, 2)  # warm-up: the first second after start-up has one-off costs
        wait_unique(receiver, 2 * rate + 1, 60)
        receiver.stats(reset=True)
        steady(scenario, rate, seconds)
        wait_unique(receiver, rate * seconds, 60)
        return receiver.stats()
    finally:
        stop(processes)
        scenario.container.close()


def steady(scenario: Scenario, rate: int, seconds: int) -> None:
    """Append one event per transaction at ``rate`` per second, as live traffic would."""
    interval, started = 1.0 / rate, time.perf_counter()
    for n in range(rate * seconds):
        delay = started + n * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        scenario.append(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="run on PostgreSQL alone")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ramal-bench-callbacks-"))
    receiver = Receiver(workdir)
    body = render_body(
        "call.answered",
        PAYLOAD,
        datetime.now(UTC),
        "http://127.0.0.1:8080",
    )
    backends: list[tuple[str, SqliteTemplate | None]] = []
    if not args.postgres_only:
        backends.append(("sqlite", SqliteTemplate(workdir)))
    if args.postgres or args.postgres_only:
        backends.append(("postgresql", None))
    try:
        print(f"load average before the run: {os.getloadavg()[0]:.1f} (2 cores, shared machine)")
        # On uvloop, as the workers run (ramal worker and ramal serve alike): the stricter ceiling.
        receiver_cpu = cpu_seconds(receiver.process.pid)
        ceiling, post_cpu = uvloop.run(bare_ceiling(receiver.url, body, args.events))
        receiver_cpu = 1e6 * (cpu_seconds(receiver.process.pid) - receiver_cpu) / args.events
        plain, plain_cpu = asyncio.run(bare_ceiling(receiver.url, body, args.events))
        print(
            f"bare aiohttp ceiling (64 in flight, {len(body)}-byte body, uvloop): {ceiling:,.0f} posts/s, "
            f"CPU per post: client {post_cpu:.0f} us, receiver {receiver_cpu:.0f} us "
            f"(asyncio loop: {plain:,.0f}/s, client {plain_cpu:.0f} us)"
        )
        receiver_cpu = cpu_seconds(receiver.process.pid)
        lean, lean_cpu = uvloop.run(bare_http1_ceiling(receiver.url, body, args.events))
        receiver_cpu = 1e6 * (cpu_seconds(receiver.process.pid) - receiver_cpu) / args.events
        print(
            f"bare ramal http1 client (same, no engine): {lean:,.0f} posts/s, "
            f"CPU per post: client {lean_cpu:.0f} us, receiver {receiver_cpu:.0f} us"
        )
        for name, template in backends:
            for workers in (1, 2):
                url = fresh_database(template)
                # The machine is shared and its speed drifts from minute to minute: the ceiling each
                # figure is set against is measured beside it, just before and just after the run.
                before = uvloop.run(bare_ceiling(receiver.url, body, args.events))[0]
                run = throughput(url, receiver, workers, args.events)
                after = uvloop.run(bare_ceiling(receiver.url, body, args.events))[0]
                beside = (before + after) / 2
                print(
                    f"{name:<10} {workers} worker(s): {run.rate:,.0f} deliveries/s "
                    f"({100 * run.rate / beside:.0f} % of the aiohttp ceiling beside it, {before:,.0f} / "
                    f"{after:,.0f} posts/s before / after; {100 * run.rate / lean:.0f} % of the bare http1 "
                    f"one at the start), CPU per delivery: workers {run.worker_us:.0f} us, "
                    f"receiver {run.receiver_us:.0f} us"
                    + (f", PostgreSQL {run.server_us:.0f} us" if name == "postgresql" else "")
                    + f"; load {os.getloadavg()[0]:.1f}"
                )
            stats = latency(fresh_database(template), receiver, args.rate, args.seconds)
            print(
                f"{name:<10} latency at {args.rate} events/s for {args.seconds} s: "
                f"p50 {stats['p50']:.0f} ms, p99 {stats['p99']:.0f} ms ({stats['n']:.0f} events)"
            )
    finally:
        receiver.stop()
        drop_schemas()


SCHEMAS: list[PostgresSchema] = []  # made by this run, dropped at its end (drop_schemas)


def fresh_database(template: SqliteTemplate | None) -> str:
    """An empty migrated database: a SQLite file from ``template``, else a new PostgreSQL schema."""
    if template is not None:
        return template.fresh_url()
    schema = PostgresSchema(os.environ.get("RAMAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    SCHEMAS.append(schema)
    return schema.url


def drop_schemas() -> None:
    while SCHEMAS:
        SCHEMAS.pop().drop()


if __name__ == "__main__":
    main()
