"""Calls: placing them, answering questions about them, ending them, and walking their timelines.

A call lives in ``calls.status`` and ``calls.next_step_at``: the carrier's script says how long each
phase lasts, and the simulator (:class:`ramal.carrier.simulator.CallSimulator`) calls
:meth:`CallService.advance_due` to take every call whose step is due one step further. Because scripts
are recomputed from the call itself, those two columns are the whole timeline and a restart resumes it.

Every state change writes its outbox event in the same transaction, numbered by
``calls.event_sequence``; transitions are conditional on the sequence read, so exactly one terminal
event (payload ``final: true``) is ever written per call, whoever races to end it.

Times: ``started_at`` is when the call was placed (or is scheduled to be), and each step is stamped
with the instant it was *due*, not when a worker got to it, so timelines are exact and deterministic.
Durations are in story seconds: with ``RAMAL_SANDBOX_SPEED=1000`` a 60 s call takes 60 ms of wall
time but still reports 60 s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from ramal.carrier.base import CallScript, Carrier, Outcome
from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.recordings.service import RecordingService, StoredAudio
from ramal.services.errors import Conflict, InvalidInput, NotFound
from ramal.services.events import TERMINAL_EVENT_TYPES, EventType, iso
from ramal.services.group_commit import GroupCommit
from ramal.services.phone import normalize_call_party, normalize_number
from ramal.services.principal import Principal
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.calls import CallRepository, CallRow, Scope
from ramal.store.repositories.events import EventRepository, NewEvent
from ramal.store.repositories.recordings import RecordingRepository

logger = logging.getLogger("ramal.calls")

SCHEDULE_GRACE = timedelta(minutes=5)  # a cron slightly in the past (client clock skew) means "now"
SCHEDULE_HORIZON = timedelta(days=365)
STALE_AFTER = timedelta(hours=1)
RETRY_AFTER = timedelta(seconds=30)
_CALL_COLUMNS = tuple(name for name in CallRow.__slots__ if name not in ("pin", "timezone"))


class CallStatus(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"


ACTIVE_STATUSES = frozenset({CallStatus.QUEUED, CallStatus.RINGING, CallStatus.ANSWERED})
_ENDING_EVENTS = {
    CallStatus.COMPLETED: EventType.CALL_COMPLETED,
    CallStatus.BUSY: EventType.CALL_BUSY,
    CallStatus.NO_ANSWER: EventType.CALL_NO_ANSWER,
    CallStatus.FAILED: EventType.CALL_FAILED,
    CallStatus.CANCELED: EventType.CALL_CANCELED,
}
_OUTCOME_STATUS = {
    Outcome.BUSY: CallStatus.BUSY,
    Outcome.NO_ANSWER: CallStatus.NO_ANSWER,
    Outcome.FAILED: CallStatus.FAILED,
}


class CallNotActive(Conflict):
    """No call in progress matches (wire code 003)."""


@dataclass(frozen=True, slots=True)
class CallRequest:
    origin: str
    destination: str
    record: bool = False
    invert_dial: bool = False
    campos: Mapping[str, str] = field(default_factory=dict)
    scheduled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class _NewCall:
    call: CallRow
    fields: list[dict[str, Any]]
    event: NewEvent


@dataclass(frozen=True, slots=True)
class _Step:
    values: dict[str, Any]
    event_type: EventType
    audio: StoredAudio | None = None


def scope_of(principal: Principal) -> Scope:
    """Admin credentials see every pin of their account; others only their own pin."""
    return Scope(principal.account_id, None if principal.is_admin else principal.pin_id)


def call_payload(call: CallRow) -> dict[str, Any]:
    """The event payload: an English-keyed snapshot of the call (see ramal.services.events)."""
    return {
        "call_id": call.id,
        "pin": call.pin,
        "direction": call.direction,
        "origin": call.origin,
        "destination": call.destination,
        "status": call.status,
        "created_at": iso(call.created_at),
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "billable_seconds": call.billable_seconds,
        "end_reason": call.end_reason,
        "recording_id": call.recording_id,
        "campos": call.campos or {},
        "final": call.status not in ACTIVE_STATUSES,
        "timezone": call.timezone,
    }


class CallService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        ids: IdGenerator,
        carrier: Carrier,
        recordings: RecordingService,
        *,
        speed: float = 1.0,
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.carrier = carrier
        self.recordings = recordings
        self.speed = speed
        self._intake: GroupCommit[_NewCall] = GroupCommit(
            self._insert, max_in_flight=4 if database.is_postgresql else 1
        )

    # --- placing -------------------------------------------------------------------------------

    def place(self, principal: Principal, request: CallRequest) -> CallRow:
        """Validate and store an outbound call (queued); its timeline starts at once or when scheduled."""
        new = self._prepare(principal, request)
        self._insert([new])
        return new.call

    async def place_async(self, principal: Principal, request: CallRequest) -> CallRow:
        """:meth:`place` for the API: validation runs here, the insert is group-committed."""
        new = self._prepare(principal, request)
        await self._intake.submit(new)
        return new.call

    def simulate_inbound(
        self, to_number: str, from_number: str, *, answered: bool, scope: Scope | None = None
    ) -> CallRow:
        """A sandbox inbound call to one of an account's numbers (``scope`` limits whose numbers)."""
        destination = normalize_number(to_number, field="destino")
        origin = normalize_call_party(from_number, field="origem")
        with self.database.write() as connection:
            accounts = AccountRepository(connection)
            pin = accounts.pin_of_number(destination)
            if pin is None or (scope is not None and not _in_scope(scope, pin.account_id, pin.id)):
                raise InvalidInput(f"Numero {destination} nao pertence a esta conta: cadastre-o antes")
            account = accounts.get_account(pin.account_id)
            assert account is not None  # a pin always has its account (foreign key)
            call_id = self.ids.call_id()
            script = self.carrier.inbound_script(call_id, answered=answered)
            new = self._new_call(
                call_id=call_id,
                owner=(pin.account_id, pin.id, pin.pin, account.timezone),
                direction="inbound",
                source="sandbox",
                origin=origin,
                destination=destination,
                request=CallRequest(origin, destination),
                script=script,
                status=CallStatus.RINGING,
                first_wait=script.ring_seconds,
                event_type=EventType.CALL_INCOMING,
            )
            self._write_new(connection, [new])
        return new.call

    def _prepare(self, principal: Principal, request: CallRequest) -> _NewCall:
        origin = normalize_call_party(request.origin, field="origem")
        destination = normalize_call_party(request.destination, field="destino")
        call_id = self.ids.call_id()
        script = self.carrier.outbound_script(call_id, origin, destination)
        return self._new_call(
            call_id=call_id,
            owner=(principal.account_id, principal.pin_id, principal.pin, principal.timezone.key),
            direction="outbound",
            source="api",
            origin=origin,
            destination=destination,
            request=replace(request, scheduled_at=self._check_schedule(request.scheduled_at)),
            script=script,
            status=CallStatus.QUEUED,
            first_wait=script.dial_seconds,
            event_type=EventType.CALL_QUEUED,
        )

    def _new_call(
        self,
        *,
        call_id: str,
        owner: tuple[int, int, str, str],
        direction: str,
        source: str,
        origin: str,
        destination: str,
        request: CallRequest,
        script: CallScript,
        status: CallStatus,
        first_wait: int,
        event_type: EventType,
    ) -> _NewCall:
        """The call's row, field rows and first event; its first step is due ``first_wait`` story
        seconds after it starts."""
        now = self.clock.now()
        account_id, pin_id, pin, timezone = owner
        started_at = request.scheduled_at or now
        call = CallRow(
            id=call_id,
            account_id=account_id,
            pin_id=pin_id,
            pin=pin,
            timezone=timezone,
            direction=direction,
            origin=origin,
            destination=destination,
            status=status,
            record=request.record,
            invert_dial=request.invert_dial,
            source=source,
            created_at=now,
            scheduled_at=request.scheduled_at,
            started_at=started_at,
            answered_at=None,
            ended_at=None,
            duration_seconds=0,
            billable_seconds=0,
            end_reason=None,
            outcome=script.outcome.value,
            recording_id=None,
            campos=dict(request.campos) or None,
            next_step_at=started_at + self._wall(first_wait),
            event_sequence=1,
        )
        fields = [
            {
                "call_id": call_id,
                "key": key,
                "value": value,
                "account_id": account_id,
                "pin_id": pin_id,
                "started_at": started_at,
            }
            for key, value in request.campos.items()
        ]
        return _NewCall(call, fields, self._event(call, event_type, now))

    def _check_schedule(self, scheduled_at: datetime | None) -> datetime | None:
        if scheduled_at is None:
            return None
        now = self.clock.now()
        if scheduled_at < now - SCHEDULE_GRACE:
            raise InvalidInput("Parametro cron invalido: a data informada ja passou")
        if scheduled_at > now + SCHEDULE_HORIZON:
            raise InvalidInput("Parametro cron invalido: agende com no maximo 365 dias de antecedencia")
        return max(scheduled_at, now)

    def _insert(self, batch: list[_NewCall]) -> None:
        with self.database.write() as connection:
            self._write_new(connection, batch)

    def _write_new(self, connection: Connection, batch: list[_NewCall]) -> None:
        CallRepository(connection).insert_many(
            [{name: getattr(new.call, name) for name in _CALL_COLUMNS} for new in batch],
            [row for new in batch for row in new.fields],
        )
        EventRepository(connection).append_many([new.event for new in batch])

    # --- questions -----------------------------------------------------------------------------

    def status(
        self, principal: Principal, origin: str, destination: str, call_id: str | None = None
    ) -> CallRow:
        """The latest call between two numbers that ``principal`` may see."""
        origin = normalize_call_party(origin, field="origem")
        destination = normalize_call_party(destination, field="destino")
        with self.database.read() as connection:
            call = CallRepository(connection).latest_between(
                scope_of(principal), origin, destination, active_only=False, call_id=call_id
            )
        if call is None:
            raise NotFound(f"Nenhuma chamada encontrada de {origin} para {destination}")
        return call

    def scheduled(self, principal: Principal, schedule_id: str, origin: str) -> CallRow:
        """A scheduled call by its ``agendamentoId`` (the call id), checked against its origin."""
        origin = normalize_call_party(origin, field="origem")
        with self.database.read() as connection:
            call = CallRepository(connection).get(schedule_id, scope_of(principal))
        if call is None or call.scheduled_at is None or call.origin != origin:
            raise NotFound(f"Agendamento {schedule_id} nao encontrado")
        return call

    def talk_seconds(self, call: CallRow) -> int:
        """Conversation time so far (story seconds): live for an answered call, final once ended."""
        if call.status == CallStatus.ANSWERED and call.answered_at is not None:
            return self._story(self.clock.now() - call.answered_at)
        return call.billable_seconds

    # --- ending ----------------------------------------------------------------------------------

    def end(self, principal: Principal, origin: str, destination: str, call_id: str | None = None) -> CallRow:
        """Hang up the latest active call between two numbers: an answered call completes, a call not
        yet answered is canceled. :class:`CallNotActive` when there is none."""
        origin = normalize_call_party(origin, field="origem")
        destination = normalize_call_party(destination, field="destino")
        while True:  # a simulator step may win the race: re-read and try again
            step: _Step | None = None
            try:
                with self.database.write() as connection:
                    call = CallRepository(connection).latest_between(
                        scope_of(principal), origin, destination, active_only=True, call_id=call_id
                    )
                    if call is None:
                        raise CallNotActive(f"Nenhuma chamada ativa de {origin} para {destination}")
                    now = self.clock.now()
                    step = self._hang_up(call, now)
                    ended = self._apply(connection, call, step, now)
            except BaseException:
                _discard_audio(self.recordings, [step] if step else [])
                raise
            if ended is not None:
                return ended

    def _hang_up(self, call: CallRow, now: datetime) -> _Step:
        if call.status == CallStatus.ANSWERED and call.answered_at is not None:
            talk = self._story(now - call.answered_at)
            return self._ending(call, CallStatus.COMPLETED, "hangup_api", now, talk=talk)
        return self._ending(call, CallStatus.CANCELED, "canceled_api", now, talk=0)

    # --- the timeline ----------------------------------------------------------------------------

    def has_due(self) -> bool:
        """Whether any call's step is due (stale ones included): one indexed read and no write lock,
        so that an idle simulator tick costs next to nothing beside the dispatcher's writes."""
        with self.database.read() as connection:
            return bool(CallRepository(connection).due(self.clock.now(), 1, skip_locked=False))

    def advance_due(self, limit: int = 200) -> int:
        """Take every call whose next step is due one step further; returns how many moved."""
        try:
            return self._advance(limit, isolate=False)
        except Exception:
            # A poison call must not stall the queue: redo the batch one call per transaction and
            # postpone whichever keeps failing (close_stale ends it after STALE_AFTER).
            logger.exception("call timeline batch failed; retrying call by call")
            return self._advance(limit, isolate=True)

    def close_stale(self, limit: int = 200) -> int:
        """Watchdog: a call whose step has been overdue for :data:`STALE_AFTER` (it kept failing, or the
        workers were down that long) is ended as failed, reason ``stale``, without running the step."""
        now = self.clock.now()
        closed = 0
        with self.database.write() as connection:
            for call in CallRepository(connection).due(
                now - STALE_AFTER, limit, skip_locked=self.database.is_postgresql
            ):
                due = call.next_step_at or now
                step = self._ending(call, CallStatus.FAILED, "stale", due, talk=self.talk_seconds(call))
                closed += self._apply(connection, call, step, now) is not None
        return closed

    def _advance(self, limit: int, *, isolate: bool) -> int:
        now = self.clock.now()
        if not isolate:
            steps: list[_Step] = []
            try:
                with self.database.write() as connection:
                    due = CallRepository(connection).due(now, limit, skip_locked=self.database.is_postgresql)
                    steps = [self._next_step(call) for call in due]
                    self._apply_batch(connection, due, steps, now)
                return len(due)
            except BaseException:
                _discard_audio(self.recordings, steps)
                raise
        with self.database.read() as connection:
            due = CallRepository(connection).due(now, limit, skip_locked=False)
        moved = 0
        for call in due:
            step: _Step | None = None
            try:
                with self.database.write() as connection:
                    step = self._next_step(call)
                    moved += self._apply(connection, call, step, now) is not None
            except Exception:
                _discard_audio(self.recordings, [step] if step else [])
                logger.exception("call %s failed to advance; postponed", call.id)
                self._postpone(call, now + RETRY_AFTER)
        return moved

    def _postpone(self, call: CallRow, until: datetime) -> None:
        with self.database.write() as connection:
            CallRepository(connection).transition(call.id, call.event_sequence, {"next_step_at": until})

    def _next_step(self, call: CallRow) -> _Step:
        due = call.next_step_at
        assert due is not None  # only due calls get here
        script = self._script(call)
        if call.status == CallStatus.QUEUED and script.rings:
            return _Step(
                {"status": CallStatus.RINGING, "next_step_at": due + self._wall(script.ring_seconds)},
                EventType.CALL_RINGING,
            )
        if call.status == CallStatus.RINGING and script.outcome is Outcome.ANSWERED:
            values = {
                "status": CallStatus.ANSWERED,
                "answered_at": due,
                "next_step_at": due + self._wall(script.talk_seconds),
            }
            return _Step(values, EventType.CALL_ANSWERED)
        if call.status == CallStatus.ANSWERED:
            return self._ending(
                call, CallStatus.COMPLETED, script.end_reason, due, talk=script.talk_seconds, script=script
            )
        return self._ending(
            call, _OUTCOME_STATUS[script.outcome], script.end_reason, due, talk=0, script=script
        )

    def _script(self, call: CallRow) -> CallScript:
        if call.direction == "inbound":
            return self.carrier.inbound_script(call.id, answered=call.outcome == Outcome.ANSWERED)
        return self.carrier.outbound_script(call.id, call.origin, call.destination)

    def _ending(
        self,
        call: CallRow,
        status: CallStatus,
        reason: str,
        at: datetime,
        *,
        talk: int,
        script: CallScript | None = None,
    ) -> _Step:
        """The values of a terminal transition; records the conversation when asked to."""
        duration = script.total_seconds if script is not None else self._story(at - call.started_at)
        values: dict[str, Any] = {
            "status": status,
            "ended_at": at,
            "next_step_at": None,
            "duration_seconds": max(duration, talk),
            "billable_seconds": talk,
            "end_reason": reason,
        }
        audio = None
        if call.record and status == CallStatus.COMPLETED and talk > 0:
            audio = self.recordings.store(talk)
            values["recording_id"] = audio.recording_id
        return _Step(values, _ENDING_EVENTS[status], audio)

    def _apply(self, connection: Connection, call: CallRow, step: _Step, now: datetime) -> CallRow | None:
        """Write one transition and its event; ``None`` if another writer moved the call first."""
        values = {**step.values, "event_sequence": call.event_sequence + 1}
        if not CallRepository(connection).transition(call.id, call.event_sequence, values):
            _discard_audio(self.recordings, [step])
            return None
        updated = replace(call, **values)
        if step.audio is not None:
            RecordingRepository(connection).add(
                self.recordings.row(step.audio, call.id, call.account_id, now)
            )
        EventRepository(connection).append(self._event(updated, step.event_type, now))
        return updated

    def _apply_batch(
        self, connection: Connection, due: list[CallRow], steps: list[_Step], now: datetime
    ) -> None:
        """:meth:`_apply` for calls this transaction has locked (SQLite: the write lock; PostgreSQL:
        ``FOR UPDATE``), so every conditional update must succeed; if one does not, the whole batch
        rolls back and is redone call by call."""
        changes = [
            (call.id, call.event_sequence, {**step.values, "event_sequence": call.event_sequence + 1})
            for call, step in zip(due, steps, strict=True)
        ]
        if CallRepository(connection).transition_many(changes) != len(changes):
            raise RuntimeError("a locked call changed under the simulator")
        recordings = RecordingRepository(connection)
        for call, step in zip(due, steps, strict=True):
            if step.audio is not None:
                recordings.add(self.recordings.row(step.audio, call.id, call.account_id, now))
        EventRepository(connection).append_many(
            [
                self._event(replace(call, **values), step.event_type, now)
                for call, step, (_, _, values) in zip(due, steps, changes, strict=True)
            ]
        )

    def _event(self, call: CallRow, event_type: EventType, now: datetime) -> NewEvent:
        payload = call_payload(call)
        assert payload["final"] == (event_type in TERMINAL_EVENT_TYPES)
        return NewEvent(
            id=self.ids.call_id(),
            account_id=call.account_id,
            pin_id=call.pin_id,
            subject_type="call",
            subject_id=call.id,
            event_type=event_type,
            sequence=call.event_sequence,
            payload=payload,
            created_at=now,
        )

    def _wall(self, story_seconds: float) -> timedelta:
        return timedelta(seconds=story_seconds / self.speed)

    def _story(self, wall: timedelta) -> int:
        return max(round(wall.total_seconds() * self.speed), 0)


def _in_scope(scope: Scope, account_id: int, pin_id: int) -> bool:
    return scope.account_id == account_id and scope.pin_id in (None, pin_id)


def _discard_audio(recordings: RecordingService, steps: list[_Step]) -> None:
    """Delete blobs written for transitions that were not committed."""
    for step in steps:
        if step.audio is not None:
            recordings.discard(step.audio)
