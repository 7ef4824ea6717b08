"""SMS and voice messages: sending, scheduling, status, cancelling, receiving.

One ``send`` makes one record per recipient, all sharing one 14-digit ``callerid`` (the wire's id of
the send). Each record walks a timeline the :class:`MessageCarrier` scripts (queued -> sent ->
delivered, or failed); :meth:`MessageService.advance_due`, driven by the simulator loop, applies the
steps that are due. Every status change writes its outbox event in the same transaction, numbered by
``event_sequence``, and exactly one event per message is final.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.recordings.mp3 import MAX_MP3_BYTES, looks_like_mp3
from ramal.recordings.storage import BlobStorage
from ramal.services.errors import Conflict, InvalidInput, NotFound
from ramal.services.events import TERMINAL_EVENT_TYPES, EventType, iso
from ramal.services.message_text import SendWindow, split_segments
from ramal.services.phone import normalize_number
from ramal.services.principal import Principal
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.events import EventRepository, NewEvent
from ramal.store.repositories.messages import AudioRow, MessageRepository, MessageRow

CALLERID_DIGITS = 14
AUDIO_ID_LENGTH = 24
MAX_RECIPIENTS = 10_000
MAX_SCHEDULE_AHEAD = timedelta(days=366)
MAX_RECEIVED_TEXT_LENGTH = 1_600
INTERNATIONAL_PREFIX = "00"
HOME_COUNTRY_CODE = "55"


class MessageKind(StrEnum):
    SMS = "sms"
    VOICE = "voice"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"  # SMS: handed to the handset's network, waiting for it; voice: being dialled
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVED = "received"  # inbound SMS


_EVENT_OF_STATUS = {
    MessageStatus.QUEUED: EventType.MESSAGE_QUEUED,
    MessageStatus.SENT: EventType.MESSAGE_SENT,
    MessageStatus.DELIVERED: EventType.MESSAGE_DELIVERED,
    MessageStatus.FAILED: EventType.MESSAGE_FAILED,
    MessageStatus.CANCELED: EventType.MESSAGE_CANCELED,
    MessageStatus.RECEIVED: EventType.MESSAGE_RECEIVED,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One state of a scripted timeline, reached ``after_seconds`` after the previous one."""

    status: MessageStatus
    attempts: int
    after_seconds: float = 0.0
    end_reason: str | None = None


class MessageCarrier(Protocol):
    """Where messages go. The sandbox scripts a timeline per recipient; (status, attempts) pairs are
    unique within a timeline, so a stored record always knows where it stands."""

    def timeline(self, kind: MessageKind, destination: str, max_attempts: int) -> Sequence[Step]: ...


@dataclass(frozen=True, slots=True)
class SendRequest:
    kind: MessageKind
    origin: str
    destinations: Sequence[str]  # as the client wrote them (international ones start with 00)
    text: str | None = None
    audio: bytes | None = None  # an MP3 uploaded with the send
    audio_id: str | None = None  # an MP3 registered before with upload_audio
    scheduled_for: datetime | None = None
    max_attempts: int = 3  # voice only
    window: SendWindow | None = None
    short_number: bool = False
    prefix_origin: bool = False
    campos: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    callerid: str
    destinations: list[str]  # as echoed to the client, in request order, without duplicates
    messages: list[MessageRow]


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    messages: list[MessageRow]
    total: int


class MessageService:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        ids: IdGenerator,
        storage: BlobStorage,
        carrier: MessageCarrier,
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.storage = storage
        self.carrier = carrier

    # --- sending -------------------------------------------------------------------------------

    def send(self, principal: Principal, request: SendRequest) -> SendResult:
        """Validate everything first, then store every recipient and its queued event at once."""
        origin = normalize_number(request.origin, field="origem")
        recipients = _recipients(request.destinations)
        text = _message_text(request, origin)
        segments = 1  # voice messages are billed per message
        if request.kind is MessageKind.SMS and text is not None:
            segments = len(split_segments(text, short_number=request.short_number))
        now = self.clock.now()
        start = self._start_time(request, now, principal)
        new_audio = self._new_audio(principal, request.audio, now)
        try:
            with self.database.write() as connection:
                repo = MessageRepository(connection)
                audio_id = request.audio_id
                if new_audio is not None:
                    repo.add_audio(new_audio)
                    audio_id = new_audio.id
                elif audio_id is not None and repo.get_audio(audio_id, principal.account_id) is None:
                    raise InvalidInput(f"Parametro audio_id invalido: audio {audio_id} nao cadastrado")
                callerid = self._new_callerid(repo)
                max_attempts = request.max_attempts if request.kind is MessageKind.VOICE else 1
                rows = [
                    MessageRow(
                        id=self.ids.call_id(),
                        callerid=callerid,
                        account_id=principal.account_id,
                        pin_id=principal.pin_id,
                        kind=request.kind.value,
                        direction="outbound",
                        origin=origin,
                        destination=stored,
                        text=text,
                        audio_id=audio_id,
                        segments=segments,
                        status=MessageStatus.QUEUED.value,
                        attempts=0,
                        max_attempts=max_attempts,
                        created_at=now,
                        scheduled_at=start if start > now else None,
                        started_at=start,
                        sent_at=None,
                        delivered_at=None,
                        end_reason=None,
                        campos=request.campos or None,
                        next_step_at=start + self._first_delay(request.kind, stored, max_attempts),
                        event_sequence=1,
                        pin=principal.pin,
                        timezone=principal.timezone.key,
                    )
                    for stored, _ in recipients
                ]
                repo.add(rows)
                EventRepository(connection).append_many([self._event(row, now) for row in rows])
        except BaseException:
            if new_audio is not None:
                self.storage.delete(new_audio.storage_key)
            raise
        return SendResult(callerid, [echoed for _, echoed in recipients], rows)

    def upload_audio(self, principal: Principal, data: bytes) -> str:
        """Register an MP3 for later voice messages; returns its ``audio_id``."""
        audio = self._new_audio(principal, data, self.clock.now())
        assert audio is not None
        try:
            with self.database.write() as connection:
                MessageRepository(connection).add_audio(audio)
        except BaseException:
            self.storage.delete(audio.storage_key)
            raise
        return audio.id

    # --- queries and cancelling ------------------------------------------------------------------

    def status(self, principal: Principal, callerid: str) -> list[MessageRow]:
        """Every recipient of one send; NotFound for unknown ids and other tenants' alike."""
        with self.database.read() as connection:
            rows = MessageRepository(connection).by_callerid(callerid, *_scope(principal))
        if not rows:
            raise NotFound(f"Identificador {callerid} nao existe")
        return rows

    def cancel(self, principal: Principal, callerid: str) -> list[MessageRow]:
        """Cancel the recipients of a send that are still queued (scheduled or not yet sent)."""
        now = self.clock.now()
        with self.database.write() as connection:
            repo = MessageRepository(connection)
            rows = repo.by_callerid(callerid, *_scope(principal))
            if not rows:
                raise NotFound(f"Identificador {callerid} nao existe")
            queued = [r for r in rows if r.status == MessageStatus.QUEUED]
            if not queued:
                if all(r.status == MessageStatus.CANCELED for r in rows):
                    raise NotFound(f"Identificador {callerid} ja foi cancelado")
                raise Conflict(f"Identificador {callerid}: mensagem ja enviada, nada a cancelar")
            canceled = [
                dataclasses.replace(
                    row,
                    status=MessageStatus.CANCELED.value,
                    end_reason="canceled",
                    next_step_at=None,
                    event_sequence=row.event_sequence + 1,
                )
                for row in queued
            ]
            repo.save_states(canceled)
            EventRepository(connection).append_many([self._event(row, now) for row in canceled])
        return canceled

    # --- inbound -------------------------------------------------------------------------------

    def receive(self, to: str, origin: str, text: str, principal: Principal | None = None) -> MessageRow:
        """An SMS arriving at one of ramal's numbers (the sandbox's simulated inbound traffic).

        With a ``principal`` (the HTTP sandbox endpoint) the number must be the caller's: its own
        pin's, or any pin of its account for admin credentials. Without one (the operator's CLI) any
        assigned number will do.
        """
        destination = normalize_number(to, field="destino")
        sender = normalize_number(origin, field="origem")
        body = text.strip()
        if not body or len(body) > MAX_RECEIVED_TEXT_LENGTH:
            raise InvalidInput(f"Parametro texto deve ter de 1 a {MAX_RECEIVED_TEXT_LENGTH} caracteres")
        now = self.clock.now()
        with self.database.write() as connection:
            accounts_repo = AccountRepository(connection)
            pin = accounts_repo.pin_of_number(destination)
            if pin is None or (principal is not None and not _may_use(principal, pin.account_id, pin.id)):
                raise InvalidInput(f"Parametro destino invalido: {destination} nao e um numero desta conta")
            account = accounts_repo.get_account(pin.account_id)
            assert account is not None  # a pin always has its account (foreign key)
            repo = MessageRepository(connection)
            row = MessageRow(
                id=self.ids.call_id(),
                callerid=self._new_callerid(repo),
                account_id=pin.account_id,
                pin_id=pin.id,
                kind=MessageKind.SMS.value,
                direction="inbound",
                origin=sender,
                destination=destination,
                text=body,
                audio_id=None,
                segments=1,
                status=MessageStatus.RECEIVED.value,
                attempts=0,
                max_attempts=0,
                created_at=now,
                scheduled_at=None,
                started_at=now,
                sent_at=None,
                delivered_at=now,
                end_reason=None,
                campos=None,
                next_step_at=None,
                event_sequence=1,
                pin=pin.pin,
                timezone=account.timezone,
            )
            repo.add([row])
            EventRepository(connection).append(self._event(row, now))
        return row

    def received(
        self, principal: Principal, start: datetime, end: datetime, page: int, per_page: int
    ) -> ReceivedPage:
        if start > end:
            raise InvalidInput("Parametro data_inicio deve ser anterior a data_fim")
        with self.database.read() as connection:
            rows, total = MessageRepository(connection).received(
                *_scope(principal), start, end, (page - 1) * per_page, per_page
            )
        return ReceivedPage(rows, total)

    # --- the carrier's timeline ------------------------------------------------------------------

    def has_due(self) -> bool:
        """Whether any message's step is due: one indexed read and no write lock, so that an idle
        simulator tick costs next to nothing beside the dispatcher's writes."""
        with self.database.read() as connection:
            return bool(MessageRepository(connection).due(self.clock.now(), 1))

    def advance_due(self, limit: int = 500) -> int:
        """Apply every timeline step that is due (catching up on missed ones, each at its own
        scripted time); returns how many messages moved."""
        now = self.clock.now()
        with self.database.write() as connection:
            repo = MessageRepository(connection)
            due = repo.due(now, limit)
            events: list[NewEvent] = []
            repo.save_states([self._advance(row, now, events) for row in due])
            EventRepository(connection).append_many(events)
        return len(due)

    def _advance(self, row: MessageRow, now: datetime, events: list[NewEvent]) -> MessageRow:
        """``row`` after every step due by ``now``; the events of its status changes go to ``events``."""
        timeline = self.carrier.timeline(MessageKind(row.kind), row.destination, row.max_attempts)
        current = row
        while current.next_step_at is not None and current.next_step_at <= now:
            at = current.next_step_at
            index = _position(timeline, current)
            if index is None or index + 1 >= len(timeline):  # off-script (e.g. table changed): stop
                current = dataclasses.replace(current, next_step_at=None)
                break
            step = timeline[index + 1]
            following = timeline[index + 2] if index + 2 < len(timeline) else None
            changed = step.status != current.status
            current = dataclasses.replace(
                current,
                status=step.status.value,
                attempts=step.attempts,
                end_reason=step.end_reason,
                sent_at=current.sent_at or (at if step.status is MessageStatus.SENT else None),
                delivered_at=at if step.status is MessageStatus.DELIVERED else current.delivered_at,
                next_step_at=None if following is None else at + timedelta(seconds=following.after_seconds),
                event_sequence=current.event_sequence + (1 if changed else 0),
            )
            if changed:
                events.append(self._event(current, at))
        return current

    # --- internals -------------------------------------------------------------------------------

    def _start_time(self, request: SendRequest, now: datetime, principal: Principal) -> datetime:
        start = now
        if request.scheduled_for is not None:
            if request.scheduled_for > now + MAX_SCHEDULE_AHEAD:
                raise InvalidInput("Parametro cron invalido: agendamento a mais de um ano")
            start = max(now, request.scheduled_for)  # a time already past means now
        if request.window is not None:
            start = request.window.first_instant_from(start, principal.timezone)
        return start

    def _first_delay(self, kind: MessageKind, destination: str, max_attempts: int) -> timedelta:
        timeline = self.carrier.timeline(kind, destination, max_attempts)
        return timedelta(seconds=timeline[1].after_seconds)

    def _new_audio(self, principal: Principal, data: bytes | None, now: datetime) -> AudioRow | None:
        """Check an upload and write its bytes; the caller stores the row (and deletes on failure)."""
        if data is None:
            return None
        if not data:
            raise InvalidInput("Parametro audio invalido: arquivo vazio")
        if len(data) > MAX_MP3_BYTES:
            raise InvalidInput(
                f"Parametro audio invalido: o arquivo excede {MAX_MP3_BYTES // 1024 // 1024} MB"
            )
        if not looks_like_mp3(data):
            raise InvalidInput("Parametro audio invalido: o arquivo nao e um MP3")
        audio_id = self.ids.hex40()[:AUDIO_ID_LENGTH]
        audio = AudioRow(audio_id, principal.account_id, f"audio/{audio_id}.mp3", len(data), now)
        self.storage.put(audio.storage_key, data)
        return audio

    def _new_callerid(self, repo: MessageRepository) -> str:
        while True:
            callerid = self.ids.numeric(CALLERID_DIGITS)
            if not repo.callerid_taken(callerid):
                return callerid

    def _event(self, row: MessageRow, at: datetime) -> NewEvent:
        event_type = _EVENT_OF_STATUS[MessageStatus(row.status)]
        return NewEvent(
            id=self.ids.call_id(),
            account_id=row.account_id,
            pin_id=row.pin_id,
            subject_type="message",
            subject_id=row.id,
            event_type=event_type.value,
            sequence=row.event_sequence,
            payload=message_payload(row, final=event_type in TERMINAL_EVENT_TYPES),
            created_at=at,
        )


def message_payload(row: MessageRow, *, final: bool) -> dict[str, Any]:
    """The English-keyed snapshot every message event carries (services/events.py)."""
    return {
        "message_id": row.id,
        "callerid": row.callerid,
        "pin": row.pin,
        "kind": row.kind,
        "direction": row.direction,
        "origin": row.origin,
        "destination": row.destination,
        "status": row.status,
        "segments": row.segments,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
        "delivered_at": iso(row.delivered_at),
        "end_reason": row.end_reason,
        "campos": row.campos or {},
        "final": final,
        "timezone": row.timezone,
    }


def _recipients(destinations: Sequence[str]) -> list[tuple[str, str]]:
    """``(stored, echoed)`` per distinct recipient: stored without the ``00`` prefix, echoed as sent."""
    if len(destinations) > MAX_RECIPIENTS:  # before checking each number: that is the costly part
        raise InvalidInput(f"No maximo {MAX_RECIPIENTS} destinos por envio")
    seen: dict[str, str] = {}
    for raw in destinations:
        echoed, stored = _sms_destination(raw)
        seen.setdefault(stored, echoed)
    if not seen:
        raise InvalidInput("Parametro destino nao informado")
    return list(seen.items())


def _sms_destination(raw: str) -> tuple[str, str]:
    """International destinations are written ``00`` + country code; others are Brazilian (55...)."""
    digits = raw.strip()
    if digits.startswith(INTERNATIONAL_PREFIX):
        stored = normalize_number(digits[len(INTERNATIONAL_PREFIX) :], field=f"destino {raw}")
        return digits, stored
    stored = normalize_number(digits, field=f"destino {raw}")
    if not stored.startswith(HOME_COUNTRY_CODE):
        raise InvalidInput(f"Parametro destino {raw} invalido: numeros internacionais comecam com 00")
    return stored, stored


def _message_text(request: SendRequest, origin: str) -> str | None:
    """The text as it goes out (with the origin prefix when asked), after checking the content rules."""
    audio_sources = sum(x is not None for x in (request.audio, request.audio_id))
    if request.kind is MessageKind.SMS:
        if audio_sources:
            raise InvalidInput("Parametros audio e audio_id so valem para tipo=voz")
        if request.text is None:
            raise InvalidInput("Parametro texto nao informado")
    elif audio_sources + (request.text is not None) != 1:
        raise InvalidInput("Mensagem de voz: informe exatamente um entre texto, audio e audio_id")
    if request.text is None:
        return None
    return f"{origin}: {request.text}" if request.prefix_origin else request.text


def _scope(principal: Principal) -> tuple[int, int | None]:
    """A token sees its own pin's messages; admin credentials see the whole account's."""
    return principal.account_id, None if principal.is_admin else principal.pin_id


def _may_use(principal: Principal, account_id: int, pin_id: int) -> bool:
    return principal.account_id == account_id and (principal.is_admin or principal.pin_id == pin_id)


def _position(timeline: Sequence[Step], row: MessageRow) -> int | None:
    for index, step in enumerate(timeline):
        if step.status == row.status and step.attempts == row.attempts:
            return index
    return None
