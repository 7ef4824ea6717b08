"""The dispatcher: outbox -> deliveries -> HTTP attempts -> results, as one background loop.

Each cycle (1) records the results of finished attempts, (2) fans new outbox events out to the
endpoints that want them, (3) claims as many due deliveries as there are free slots and starts an
attempt task for each. Attempts run concurrently (``callback_concurrency`` per process) and at most
``callback_endpoint_concurrency`` per endpoint, so a hanging receiver holds a few slots for its
timeout and never the whole process. Results are written in batches (one transaction per cycle), which
is what lets one process reach thousands of deliveries per second on PostgreSQL's slow commits.

At-least-once: a delivery is leased while in flight; a worker that dies leaves its leases to expire
and another worker retries them. A crash after the receiver answered but before the result was
recorded means the event is sent again: receivers dedupe by ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from ramal.clock import Clock
from ramal.delivery import metrics
from ramal.delivery.guard import AddressGuard, parse_callback_url
from ramal.delivery.schedule import RetrySchedule
from ramal.delivery.sender import Response, Sender
from ramal.delivery.signer import signature_header
from ramal.loops import Loop
from ramal.settings import Settings
from ramal.store.database import Database
from ramal.store.repositories.deliveries import AttemptResult, ClaimedDelivery, DeliveryRepository
from ramal.wire.callbacks import render_body

logger = logging.getLogger("ramal.delivery")
FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class DispatcherConfig:
    public_base_url: str
    concurrency: int = 128
    endpoint_concurrency: int = 64
    lease: timedelta = timedelta(seconds=60)
    pause_after: timedelta = timedelta(hours=72)
    poll_seconds: float = 0.05
    metrics_port: int | None = None


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
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._in_flight: dict[asyncio.Task[AttemptResult], ClaimedDelivery] = {}
        self._finished: list[AttemptResult] = []
        self._wake = asyncio.Event()

    # --- the loop ---------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One complete cycle, waiting for its attempts to finish and recording them (tests use it)."""
        done = await self._cycle()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        await self._cycle(claim=False)
        return done

    async def run_forever(self, stop: asyncio.Event) -> None:
        if self.config.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(self.config.metrics_port, addr="127.0.0.1")
        try:
            while not stop.is_set():
                try:
                    progressed = await self._cycle()
                except Exception:
                    logger.exception("dispatcher cycle failed; retrying")
                    progressed = 0
                self._wake.clear()
                if any(task.done() for task in self._in_flight) or (progressed and not self._in_flight):
                    continue  # results to record, or a backlog to keep claiming
                # Wait for an attempt to finish (so results are written in batches) or the poll tick.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds)
        finally:
            await self._drain()

    async def _cycle(self, *, claim: bool = True) -> int:
        """Record finished attempts, fan out, and claim more, all in ONE write transaction.

        One transaction per cycle (not one per step or per delivery) is what the throughput rests on:
        a SQLite write lock or a PostgreSQL commit costs about a millisecond whatever it carries.
        """
        self._collect()
        batch, self._finished = self._finished, []
        free = self.config.concurrency - len(self._in_flight) if claim else 0
        try:
            fanned, claims, paused = await asyncio.to_thread(self._step, batch, free, self._room(), claim)
        except Exception:
            self._finished = batch + self._finished  # keep them: written next cycle
            raise
        self._report_paused(paused)
        bodies = self._render(claims)
        for claimed in claims:
            task = asyncio.create_task(self._attempt(claimed, bodies[claimed.event_id]))
            task.add_done_callback(lambda _: self._wake.set())
            self._in_flight[task] = claimed
        return len(batch) + fanned + len(claims)

    async def close(self) -> None:
        """Release the HTTP client (after ``run_once`` use; ``run_forever`` closes it itself)."""
        await self.sender.close()

    async def _drain(self) -> None:
        """On shutdown: let attempts in flight finish (bounded by their timeout) and record them."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        with contextlib.suppress(Exception):
            await self._cycle(claim=False)
        await self.sender.close()

    # --- bookkeeping ------------------------------------------------------------------------------

    def _collect(self) -> None:
        for task in [t for t in self._in_flight if t.done()]:
            self._in_flight.pop(task)
            self._finished.append(task.result())

    def _room(self) -> dict[str, int]:
        """Free per-endpoint slots of endpoints with attempts in flight (others have the full cap)."""
        busy = Counter(claim.endpoint_code for claim in self._in_flight.values())
        return {code: self.config.endpoint_concurrency - n for code, n in busy.items()}

    # --- database steps (run in a thread) ---------------------------------------------------------

    def _step(
        self, batch: list[AttemptResult], free: int, room: dict[str, int], fan_out: bool
    ) -> tuple[int, list[ClaimedDelivery], list[str]]:
        now = self.clock.now()
        with self.database.write() as connection:
            repo = self._repo(connection)
            paused: list[str] = []
            if batch:
                repo.record(batch)
                paused = repo.update_health(
                    succeeded={r.endpoint_code for r in batch if r.outcome == "delivered"},
                    failed={r.endpoint_code for r in batch if r.outcome in ("retry", "failed")},
                    gone={r.endpoint_code for r in batch if r.outcome == "gone"},
                    now=now,
                    pause_after=self.config.pause_after,
                )
            fanned = repo.fan_out(now, FAN_OUT_BATCH) if fan_out else 0
            claims = (
                repo.claim(now, self.owner, self.config.lease, free, room, self.config.endpoint_concurrency)
                if free > 0
                else []
            )
        return fanned, claims, paused

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
        return DeliveryRepository(connection, postgresql=self.database.is_postgresql)

    # --- one attempt ------------------------------------------------------------------------------

    def _render(self, claims: list[ClaimedDelivery]) -> dict[str, bytes]:
        """Each event's body, rendered once per batch however many endpoints it goes to.

        The body depends on the event alone (the per-attempt parts, timestamp and signature, are
        headers), so a fan-out to N endpoints costs one render, not N.
        """
        bodies: dict[str, bytes] = {}
        for claim in claims:
            if claim.event_id not in bodies:
                bodies[claim.event_id] = render_body(
                    claim.event_type, claim.payload, claim.event_created_at, self.config.public_base_url
                )
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
        metrics.ATTEMPTS.labels(outcome).inc()
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


def dispatcher_for(settings: Settings, database: Database, clock: Clock) -> Dispatcher:
    """A dispatcher configured from settings (what ``ramal serve`` and ``ramal worker`` run)."""
    sender = Sender(
        AddressGuard.from_setting(settings.callback_allow_networks),
        connect_timeout=settings.callback_connect_timeout_seconds,
        total_timeout=settings.callback_total_timeout_seconds,
        limit=settings.callback_concurrency,
    )
    config = DispatcherConfig(
        public_base_url=settings.public_base_url.rstrip("/"),
        concurrency=settings.callback_concurrency,
        endpoint_concurrency=settings.callback_endpoint_concurrency,
        lease=timedelta(seconds=settings.callback_lease_seconds),
        pause_after=timedelta(hours=settings.callback_pause_after_hours),
        poll_seconds=settings.callback_poll_seconds,
        metrics_port=settings.callback_metrics_port,
    )
    return Dispatcher(database, clock, sender, RetrySchedule(scale=settings.callback_retry_scale), config)
