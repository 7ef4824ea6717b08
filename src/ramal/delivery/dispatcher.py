"""The dispatcher: outbox -> deliveries -> HTTP attempts -> results, as a pipeline in one process.

Two things run side by side. The *database step* runs in a thread (on SQLite in ``ramal worker``, on
the event loop: see :func:`dispatcher_for`), one write transaction at a time: it records the
attempts that ended since the previous step (and hands back claims this process will not send), fans
new outbox events out to the endpoints that want them, and claims due deliveries. The *attempts* run
on the event loop: each claim joins a local queue (:mod:`slots`) and starts as soon as a slot is
free, at most ``callback_concurrency`` in flight per process and ``callback_endpoint_concurrency``
per endpoint, so a hanging receiver holds a few slots for its timeout and never the whole process.
The queue is claimed ahead (up to ``claim_ahead`` times the in-flight limits held: see
:func:`dispatcher_for`), so an attempt that ends starts the next one at once, not after the next
transaction. Its result waits for the next step, which runs when a batch of results is in (a
quarter of ``callback_concurrency``), at once when a slot went idle for want of a claim (the
low-traffic case: latency first), or at the poll tick. One transaction per step, not per
delivery, is what lets a process deliver thousands per second on PostgreSQL's slow commits; while
it commits, the HTTP slots stay busy.

At-least-once: a delivery is leased while held; a worker that dies leaves its leases to expire and
another worker retries them. A crash after the receiver answered but before the result was recorded
means the event is sent again: receivers dedupe by ``webhook-id``. Per-call order holds because a
delivery is only claimable once the previous event of its subject for that endpoint is recorded as
no longer pending, and a result is recorded only after its attempt ended. A result the database
refuses to store (a value nobody foresaw) fails its step: the batch is then written one result at a
time, and the refused one alone is dropped, to be attempted again when its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from ramal.clock import Clock
from ramal.delivery import metrics
from ramal.delivery.guard import AddressGuard, parse_callback_url
from ramal.delivery.schedule import RetrySchedule
from ramal.delivery.sender import Response, Sender
from ramal.delivery.signer import signature_header
from ramal.delivery.slots import Budget, Ready, Slots
from ramal.loops import Loop
from ramal.settings import Settings
from ramal.store.database import Database, HeldWriter
from ramal.store.repositories.deliveries import (
    KEYED_PLANS_SESSION,
    AttemptResult,
    ClaimedDelivery,
    DeliveryRepository,
    StepRequest,
)
from ramal.wire.callbacks import render_body

logger = logging.getLogger("ramal.delivery")
FAN_OUT_BATCH = 500
_REFUSED = (DataError, IntegrityError)  # the database refused a value (not the connection: not down)
_UNWRITABLE = "erro interno: a resposta do destino nao pode ser gravada"
T = TypeVar("T")


@dataclass(frozen=True)
class DispatcherConfig:
    public_base_url: str
    concurrency: int = 128
    endpoint_concurrency: int = 64
    lease: timedelta = timedelta(seconds=60)
    pause_after: timedelta = timedelta(hours=72)
    poll_seconds: float = 0.05
    metrics_port: int | None = None
    # Run the database step on the event loop instead of in a thread (when: see ``dispatcher_for``).
    step_on_loop: bool = False
    # Steps in flight at once, each on a connection of its own (see ``dispatcher_for``).
    steps_in_flight: int = 1
    # Claims held per endpoint (and in all), in flight and waiting, as a multiple of the in-flight
    # limits (``Slots``); never less than one batch ahead per step in flight (1 + steps).
    claim_ahead: int = 0


class Dispatcher(Loop):
    name = "dispatcher"

    def __init__(
        self,
        database: Database,
        clock: Clock,
        sender: Sender,
        schedule: RetrySchedule,
        config: DispatcherConfig,
    ) -> None:
        super().__init__(config.poll_seconds)
        self.database = database
        self.clock = clock
        self.sender = sender
        self.schedule = schedule
        self.config = config
        # No pool checkout (and PostgreSQL ping) per step, and the steps' planner settings made once.
        session = KEYED_PLANS_SESSION if database.is_postgresql else None
        self._writers = [database.held_writer(session) for _ in range(max(1, config.steps_in_flight))]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # Each step in flight claims for the slots that will free while it runs (see ``Slots``).
        ahead = max(config.claim_ahead, 1 + len(self._writers))
        self._slots = Slots(config.concurrency, config.endpoint_concurrency, ahead=ahead)
        self._lanes: set[asyncio.Task[None]] = set()
        self._finished: list[AttemptResult] = []
        self._given_back: list[int] = []
        self._wake = asyncio.Event()
        self._slot_idle = False  # an attempt ended and no claim waited for its slot
        self._record_batch = max(1, config.concurrency // 4)
        # How long a claim may wait for a slot and still be attempted inside its lease (at least half
        # the lease, for a lease configured shorter than the timeout).
        attempt_timeout = timedelta(seconds=sender.total_timeout)
        self._queue_wait = max(config.lease - attempt_timeout, config.lease / 2)

    # --- the loop ---------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One step, then every claim attempted and recorded (what tests drive)."""
        done = await self._step(self._writers[0])
        await self._wait_attempts()
        await self._step(self._writers[0], claim=False)
        return done

    async def run_forever(self, stop: asyncio.Event) -> None:
        if self.config.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(self.config.metrics_port, addr="127.0.0.1")
        try:
            steppers = [
                self._stepper(writer, stop, polls=not index) for index, writer in enumerate(self._writers)
            ]
            await asyncio.gather(*steppers)
        finally:
            await self._drain()

    async def _stepper(self, writer: HeldWriter, stop: asyncio.Event, *, polls: bool) -> None:
        """Step on ``writer`` whenever a step is due, until ``stop``.

        With several steppers (PostgreSQL), a step starts while another waits on the server: each
        takes the results ended so far and a budget the other's claim cannot also spend
        (:meth:`Slots.reserve`), and ``FOR UPDATE SKIP LOCKED`` keeps their claims apart, as between
        two workers. Only the first polls at the idle tick: the others step for batches of results.
        """
        while not stop.is_set():
            try:
                progressed = await self._step(writer)
            except Exception:
                logger.exception("dispatcher step failed; retrying")
                await asyncio.sleep(self.idle_seconds)  # the database may be down: do not spin
                continue
            await self._until_step_due(progressed, stop, polls=polls)

    async def _until_step_due(self, progressed: int, stop: asyncio.Event, *, polls: bool) -> None:
        """Wait until the next step has enough to do, or (if it ``polls``) the poll tick (new outbox
        events).

        While claims wait in the local queue the slots stay busy, so the step waits for a batch of
        results (each step has a fixed cost of a dozen statements and a commit); it runs at once
        when a slot went idle for want of a claim, when claims are handed back, or when the last
        step found a backlog and nothing waits.
        """
        while not stop.is_set():
            self._wake.clear()
            if self._batch_ready() or (
                progressed and not self._slots.waiting and self._slots.budget().free > 0
            ):
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds)
            except TimeoutError:
                if polls:
                    return

    def _batch_ready(self) -> bool:
        """Enough results (or hand-backs) for a step, or a slot idle for want of a claim."""
        return bool(self._given_back) or self._slot_idle or len(self._finished) >= self._record_batch

    async def close(self) -> None:
        """Release the HTTP client and the connection (after ``run_once`` use; ``run_forever`` closes
        them itself)."""
        await self.sender.close()
        for writer in self._writers:
            writer.close()

    async def _drain(self) -> None:
        """On shutdown: hand back waiting claims, let attempts in flight end, record everything."""
        self._given_back.extend(self._slots.drop())
        await self._wait_attempts()
        with contextlib.suppress(Exception):
            await self._step(self._writers[0], claim=False)
        await self.close()

    async def _wait_attempts(self) -> None:
        while self._lanes:  # a lane goes on while claims wait for its slot
            await asyncio.wait(list(self._lanes))

    # --- the database step (runs in a thread while attempts go on) -------------------------------

    async def _step(self, writer: HeldWriter, *, claim: bool = True) -> int:
        """Record what ended, hand back, fan out, and claim, in ONE write transaction.

        One transaction per step (not one per delivery) is what the throughput rests on: a SQLite
        write lock or a PostgreSQL commit costs about a millisecond whatever it carries.
        """
        results, self._finished = self._finished, []
        given_back, self._given_back = self._given_back, []
        self._slot_idle = False
        budget = self._slots.reserve() if claim else None
        try:
            outcome = await self._off_loop(self._transaction, writer, results, given_back, budget)
        except _REFUSED:
            if not results:
                raise
            # One result the database refuses (a bug, a byte nobody foresaw) would fail every step
            # after this one, and every endpoint would wait: each is written alone instead.
            self._given_back = given_back + self._given_back
            left, paused = await self._off_loop(self._write_one_by_one, writer, results)
            self._finished = left + self._finished
            self._report_paused(paused)
            return len(results) - len(left)
        except Exception:
            self._finished = results + self._finished  # keep them: written next step
            self._given_back = given_back + self._given_back
            raise
        finally:
            if budget is not None:
                self._slots.release(budget)
        fanned, claims, paused, claimed_at = outcome
        self._report_paused(paused)
        self._queue(claims, claimed_at + self._queue_wait)
        return len(results) + fanned + len(claims)

    async def _off_loop(self, work: Callable[..., T], *args: object) -> T:
        """Run database work in the step's thread, or on the loop (see ``dispatcher_for``)."""
        if self.config.step_on_loop:
            return work(*args)
        return await asyncio.to_thread(work, *args)

    def _write_one_by_one(
        self, writer: HeldWriter, results: list[AttemptResult]
    ) -> tuple[list[AttemptResult], list[str]]:
        """Write each result in a transaction of its own, after a step's write was refused for its
        data. One refused even without the receiver's text is dropped, logged: its lease expires and
        the delivery is attempted again (at-least-once). Returns the results left unwritten because
        the database failed otherwise (down, say), to be written at the next step, and the endpoints
        paused on the way."""
        paused: list[str] = []
        for index, result in enumerate(results):
            try:
                paused += self._write_alone(writer, result)
            except Exception:
                logger.exception("recording results failed; retrying at the next step")
                return results[index:], paused
        return [], paused

    def _write_alone(self, writer: HeldWriter, result: AttemptResult) -> list[str]:
        for version in (result, result._replace(snippet=None, error=_UNWRITABLE)):
            try:
                with writer.write() as connection:
                    repo = self._repo(connection)
                    return repo.record_with_health([version], self.clock.now(), self.config.pause_after)
            except _REFUSED:
                logger.exception("the result of delivery %s was refused by the database", result.delivery_id)
        logger.error("the result of delivery %s is dropped; it will be attempted again", result.delivery_id)
        return []

    def _transaction(
        self, writer: HeldWriter, results: list[AttemptResult], given_back: list[int], budget: Budget | None
    ) -> tuple[int, list[ClaimedDelivery], list[str], datetime]:
        now = self.clock.now()
        if not results and not given_back and not self._has_work(now):
            return 0, [], [], now  # idle: no write lock taken (on SQLite it is the API's too)
        request = StepRequest(now, self.owner, results, given_back, self.config.pause_after)
        if budget is not None:
            request = request._replace(
                fan_out=FAN_OUT_BATCH,
                claim=budget.free,
                lease=self.config.lease,
                room=budget.room,
                default_room=budget.default_room,
            )
        with writer.write() as connection:
            outcome = self._repo(connection).step(request)
        return outcome.fanned, outcome.claims, outcome.paused, now

    def _has_work(self, now: datetime) -> bool:
        with self.database.read() as connection:
            return DeliveryRepository(connection, postgresql=self.database.is_postgresql).has_work(now)

    # --- the local queue and the attempts (event loop) -------------------------------------------

    def _queue(self, claims: list[ClaimedDelivery], start_by: datetime) -> None:
        bodies = self._render(claims)
        for claim in claims:
            body = bodies[claim.event_id]
            if body is None:  # a failed attempt, retried on the schedule: never the batch's loss
                unsent = Response(None, 0.0, error="erro interno: o evento nao pode ser montado")
                self._finished.append(self._judge(claim, self.clock.now(), unsent))
                continue
            self._slots.add(Ready(claim, body, start_by))
        self._start_ready()

    def _start_ready(self) -> None:
        """Start a lane for each claim a free slot can take now (after a step queued new claims)."""
        ready, stale = self._slots.take(self.clock.now())
        self._given_back.extend(stale)
        for item in ready:
            lane = asyncio.create_task(self._lane(item))
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)

    async def _lane(self, item: Ready | None) -> None:
        """Attempt a claim, then the next one that may take its slot, until none waits.

        A task per slot while claims wait, not one per attempt: creating, scheduling and ending a
        task cost ~10 us on this machine, some 4 % of a delivery.
        """
        while item is not None:
            code = item.claim.endpoint_code
            try:
                result = await self._attempt(item.claim, item.body)
            except BaseException:  # cancelled (interpreter exit): the slot is free, the lease expires
                self._slots.finished(code)
                raise
            item = self._ended(code, result)

    def _ended(self, code: str, result: AttemptResult) -> Ready | None:
        """An attempt ended: free its slot, keep its result for the next step (and wake the loop to
        record it); returns the claim to attempt next in that slot, if one may start now."""
        self._slot_idle |= self._slots.finished(code)
        self._finished.append(result)
        if result.outcome == "gone":  # the endpoint is being disabled: send it nothing more
            self._given_back.extend(self._slots.drop(code))
        ready, stale = self._slots.take(self.clock.now(), limit=1)
        self._given_back.extend(stale)
        # Wake the loop only when a step may be due, not per attempt: each wake-up re-arms a
        # ``wait_for`` (a task and a timer), ~8 us. The loop also steps once the queue ran dry.
        if self._batch_ready() or not self._slots.waiting:
            self._wake.set()
        return ready[0] if ready else None

    def _report_paused(self, paused: list[str]) -> None:
        for code in paused:
            metrics.ENDPOINTS_PAUSED.inc()
            logger.warning(
                "callback endpoint %s paused: failing for more than %s; resume with "
                "`ramal callbacks resume %s` (its events are kept)",
                code,
                self.config.pause_after,
                code,
            )

    def _repo(self, connection: Connection) -> DeliveryRepository:
        """A repository on the held writer's connection (its session has the keyed plans)."""
        postgresql = self.database.is_postgresql
        return DeliveryRepository(connection, postgresql=postgresql, keyed_session=postgresql)

    # --- one attempt ------------------------------------------------------------------------------

    def _render(self, claims: list[ClaimedDelivery]) -> dict[str, bytes | None]:
        """Each event's body (``None`` if it cannot be rendered), once per batch however many
        endpoints it goes to.

        The body depends on the event alone (the per-attempt parts, timestamp and signature, are
        headers), so a fan-out to N endpoints costs one render, not N. A payload that breaks the
        renderer (a bug, a hand-edited row) fails its own deliveries only: raised here, it cost the
        whole claimed batch a lease's wait, again at every claim.
        """
        bodies: dict[str, bytes | None] = {}
        for claim in claims:
            if claim.event_id in bodies:
                continue
            try:
                bodies[claim.event_id] = render_body(
                    claim.event_type, claim.payload, claim.event_created_at, self.config.public_base_url
                )
            except Exception:
                logger.exception("event %s could not be rendered", claim.event_id)
                bodies[claim.event_id] = None
        return bodies

    async def _attempt(self, claim: ClaimedDelivery, body: bytes) -> AttemptResult:
        now = self.clock.now()
        try:
            response = await self._send(claim, body, now)
        except Exception as bug:  # a bad row must cost one retry, never the loop or the lease
            logger.exception("delivery %s could not be attempted", claim.id)
            response = Response(None, 0.0, error=f"erro interno: {type(bug).__name__}")
        return self._judge(claim, now, response)

    async def _send(self, claim: ClaimedDelivery, body: bytes, now: datetime) -> Response:
        timestamp = int(now.timestamp())
        keys = [claim.secret]
        if (
            claim.previous_secret
            and claim.previous_secret_expires_at
            and claim.previous_secret_expires_at > now
        ):
            keys.append(claim.previous_secret)
        headers = {
            "webhook-id": claim.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(keys, claim.event_id, timestamp, body),
            "ramal-event-type": claim.event_type,
            "ramal-subject-id": claim.subject_id,
            "ramal-sequence": str(claim.sequence),
            "ramal-attempt": str(claim.attempts + 1),
        }
        return await self.sender.post(parse_callback_url(claim.url), body, headers)

    def _judge(self, claim: ClaimedDelivery, started: datetime, response: Response) -> AttemptResult:
        """The retry policy: 2xx delivered, 410 gone, otherwise retried on the schedule, then failed."""
        status = response.status
        attempts = claim.attempts + 1
        next_at: datetime | None = None
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
            metrics.EVENT_TO_DELIVERY.observe((self.clock.now() - claim.event_created_at).total_seconds())
        elif status == 410:
            outcome, next_at = "gone", started
        else:
            honoured = response.retry_after if status in (429, 503) else None
            delay = self.schedule.delay_after(attempts, honoured)
            outcome = "failed" if delay is None else "retry"
            next_at = None if delay is None else started + timedelta(seconds=delay)
        metrics.ATTEMPTS_BY_OUTCOME[outcome].inc()
        metrics.ATTEMPT_LATENCY.observe(response.latency_seconds)
        error = response.error
        if error is None and status is not None and not 200 <= status < 300:
            error = f"HTTP {status}"
        return AttemptResult(
            delivery_id=claim.id,
            endpoint_code=claim.endpoint_code,
            attempted_at=started,
            outcome=outcome,
            status_code=status,
            latency_ms=round(response.latency_seconds * 1000),
            snippet=response.snippet,
            error=error,
            next_attempt_at=next_at,
        )


def dispatcher_for(
    settings: Settings, database: Database, clock: Clock, *, own_process: bool = False
) -> Dispatcher:
    """A dispatcher configured from settings (what ``ramal serve`` and ``ramal worker`` run).

    On SQLite the step is CPU work (the database runs in this process), and in a process of its own
    (``ramal worker``) it runs on the event loop: in a thread it cost a thread wake-up per step and a
    GIL hand-over at every sqlite3 call, ~5 % of the worker's CPU per delivery and ~15 % of its
    throughput (bench/callbacks.py). In ``ramal serve`` the loop is the API's, which must not stall
    for a step, and on PostgreSQL the step mostly waits on the server, which the thread lets the
    attempts overlap; both keep the thread. (On the loop, a PostgreSQL worker delivered 3-21 % more
    per second, but a step held up on the server held up every attempt with it: the p99 latency at
    200 events/s went from 57-58 ms to 63-271 ms, over the 250 ms bar; docs/benchmarks.md.)

    On PostgreSQL two steps run at once, each on its own connection: a step is mostly waiting on
    the server, and one at a time left the HTTP slots idle while it did. One worker went from 36 %
    to 40-48 % of the aiohttp ceiling, two from 44 % to 50-53 % (docs/benchmarks.md). On SQLite a
    second step would only queue for the one write lock.

    A PostgreSQL worker also holds five times the in-flight limits (SQLite's keeps two): its steps
    take 20 ms at the median but now and then 100-300 ms, and with three times, a third of the
    steps ended with no attempt in flight (the queue had run dry meanwhile). With five, one worker
    delivered 10-17 % more per second in each of three interleaved pairs (52 -> 53, 54 -> 56 and
    44 -> 51 % of the aiohttp ceiling measured beside each run). The claims a slow endpoint cannot
    start within their lease are handed back, never sent late (``Slots``).
    """
    sender = Sender(
        AddressGuard.from_setting(settings.callback_allow_networks),
        connect_timeout=settings.callback_connect_timeout_seconds,
        total_timeout=settings.callback_total_timeout_seconds,
    )
    config = DispatcherConfig(
        public_base_url=settings.public_base_url.rstrip("/"),
        concurrency=settings.callback_concurrency,
        endpoint_concurrency=settings.callback_endpoint_concurrency,
        lease=timedelta(seconds=settings.callback_lease_seconds),
        pause_after=timedelta(hours=settings.callback_pause_after_hours),
        poll_seconds=settings.callback_poll_seconds,
        metrics_port=settings.callback_metrics_port,
        step_on_loop=own_process and not database.is_postgresql,
        steps_in_flight=2 if database.is_postgresql else 1,
        claim_ahead=5 if database.is_postgresql else 2,
    )
    return Dispatcher(database, clock, sender, RetrySchedule(scale=settings.callback_retry_scale), config)
