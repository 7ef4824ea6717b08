"""Every endpoint as data: what to send and how to read the answer, with no I/O.

An :class:`Operation` is built from English arguments (this module is the SDK's only translator to
wire names), then executed by :class:`~ramal.client.Client` or :class:`~ramal.client.AsyncClient`.
Keeping the two clients as thin executors of the same operations means a wire detail lives in one
place, and ``safe`` (may this request be sent twice?) is decided per endpoint, next to its path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypedDict, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from ramal.client.envelope import ADD_CALLBACK_SUCCESS, SUCCESS
from ramal.client.models import (
    AudioUpload,
    Call,
    CallbackEndpoint,
    CallStatus,
    CanceledMessage,
    EndedCall,
    MessagePage,
    MessageRow,
    MessageStatus,
    ReceivedMessage,
    ReceivedPage,
    Recording,
    ScheduledCall,
    SmsResult,
    StatementPage,
    StatementRow,
    Token,
    TokenInfo,
)

T = TypeVar("T")


class Paged(Protocol):
    """A page of a paged listing (statement, message statement)."""

    @property
    def rows(self) -> Sequence[Any]: ...

    @property
    def pages(self) -> int: ...


PageT = TypeVar("PageT", bound=Paged)
M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)
CallbackKind = Literal["call", "sms"]
Parser = Callable[[dict[str, Any], ZoneInfo], T]
AudioInput = bytes | Path


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One request to the service and the parser of its successful envelope."""

    method: Literal["GET", "POST"]
    path: str
    parse: Parser[T]
    params: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    safe: bool = False  # a read: may be retried after a timeout or a server-side failure
    auth: bool = True
    format_param: str = "format"  # /extrato/* call it "formato" (contract §1)
    success: frozenset[str] = SUCCESS


# --- value encoders (English -> wire) ---------------------------------------------------------


def _yes_no(flag: bool) -> str:
    return "s" if flag else "n"


def _wall_clock(value: datetime, zone: ZoneInfo) -> datetime:
    """Aware instants are converted to the account zone; naive ones are taken as already in it."""
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def _ymdhis(value: date | datetime, zone: ZoneInfo, *, end_of_day: bool) -> str:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.max if end_of_day else time.min)
    return _wall_clock(value, zone).strftime("%Y%m%d%H%M%S")


def _cron(value: datetime, zone: ZoneInfo) -> str:
    return _wall_clock(value, zone).strftime("%d-%m-%Y-%H-%M-%S")


def _campos(fields: Mapping[str, str] | None) -> dict[str, str]:
    return {f"campos[{key}]": str(value) for key, value in (fields or {}).items()}


def _destinations(destinations: str | Iterable[str]) -> str:
    return destinations if isinstance(destinations, str) else ";".join(destinations)


def _audio(audio: AudioInput) -> tuple[str, bytes, str]:
    if isinstance(audio, Path):
        return (audio.name, audio.read_bytes(), "audio/mpeg")
    return ("audio.mp3", audio, "audio/mpeg")


def _drop_none(values: Mapping[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


# --- parsers (envelope -> model) --------------------------------------------------------------


_ENVELOPE_KEYS = frozenset({"api", "modulo", "status", "codigo", "msg"})


def _model(model: type[M]) -> Parser[M]:
    """Parse the envelope's own members into ``model``, leaving out the envelope's bookkeeping."""
    wanted = {info.alias or name for name, info in model.model_fields.items()}
    skip = _ENVELOPE_KEYS - wanted

    def parse(envelope: dict[str, Any], zone: ZoneInfo) -> M:
        members = {key: value for key, value in envelope.items() if key not in skip}
        return model.model_validate(members, context={"zone": zone})

    return parse


def _message(envelope: dict[str, Any], zone: ZoneInfo) -> str:
    return str(envelope.get("msg", ""))


def _list_of(model: type[M]) -> Parser[list[M]]:
    """The items of ``msg`` (XML renders an empty list as an empty element, read back as ``""``)."""

    def parse(envelope: dict[str, Any], zone: ZoneInfo) -> list[M]:
        items = envelope.get("msg")
        if isinstance(items, dict):  # one object where a list was expected: a list of one
            items = [items]
        if not isinstance(items, list):
            return []
        return [model.model_validate(item, context={"zone": zone}) for item in items]

    return parse


# --- auth -------------------------------------------------------------------------------------


def request_token(client_id: str, client_secret: str) -> Operation[Token]:
    # Safe to resend: a second token is harmless and the first simply expires.
    return Operation(
        "POST",
        "/request_token",
        _model(Token),
        {"client_id": client_id, "client_secret": client_secret},
        safe=True,
        auth=False,
    )


def token_info() -> Operation[TokenInfo]:
    return Operation("POST", "/ramal/token-info", _model(TokenInfo), safe=True)


# --- calls ------------------------------------------------------------------------------------


def place_call(
    origin: str,
    destination: str,
    *,
    record: bool,
    reverse_dial: bool,
    schedule_at: datetime | None,
    fields: Mapping[str, str] | None,
    zone: ZoneInfo,
) -> Operation[Call]:
    params = {
        "origem": origin,
        "destino": destination,
        "gravar": _yes_no(record),
        **({"inverter_discagem": "s"} if reverse_dial else {}),
        **({"cron": _cron(schedule_at, zone)} if schedule_at else {}),
        **_campos(fields),
    }
    return Operation("POST", "/voz/call", _model(Call), params)


def _legs(origin: str, destination: str, call_id: str | None) -> dict[str, str]:
    return _drop_none({"origem": origin, "destino": destination, "callerid": call_id})


def call_status(origin: str, destination: str, call_id: str | None) -> Operation[list[CallStatus]]:
    return Operation(
        "GET", "/voz/status", _list_of(CallStatus), _legs(origin, destination, call_id), safe=True
    )


def end_call(origin: str, destination: str, call_id: str | None) -> Operation[EndedCall]:
    return Operation("GET", "/voz/end", _model(EndedCall), _legs(origin, destination, call_id))


def scheduled_call(origin: str, schedule_id: str) -> Operation[ScheduledCall]:
    return Operation(
        "POST",
        "/voz/status-agendamento",
        _model(ScheduledCall),
        {"origem": origin, "agendamentoId": schedule_id},
        safe=True,
    )


# --- messages ---------------------------------------------------------------------------------


def send_sms(
    origin: str,
    destinations: str | Iterable[str],
    text: str,
    *,
    schedule_at: datetime | None,
    fields: Mapping[str, str] | None,
    short_number: bool | None,
    zone: ZoneInfo,
) -> Operation[SmsResult]:
    params = _drop_none(
        {
            "origem": origin,
            "destino": _destinations(destinations),
            "texto": text,
            "tipo": "texto",
            "cron": _cron(schedule_at, zone) if schedule_at else None,
            "short_number": None if short_number is None else _yes_no(short_number),
        }
    )
    return Operation("POST", "/sms/send", _model(SmsResult), {**params, **_campos(fields)})


def send_voice_message(
    origin: str,
    destinations: str | Iterable[str],
    *,
    text: str | None,
    audio: AudioInput | None,
    audio_id: str | None,
    attempts: int | None,
    send_from_hour: int | None,
    send_until_hour: int | None,
    schedule_at: datetime | None,
    fields: Mapping[str, str] | None,
    zone: ZoneInfo,
) -> Operation[SmsResult]:
    params = _drop_none(
        {
            "origem": origin,
            "destino": _destinations(destinations),
            "tipo": "voz",
            "texto": text,
            "audio_id": audio_id,
            "num_tentativas": None if attempts is None else str(attempts),
            "enviar_de": None if send_from_hour is None else str(send_from_hour),
            "enviar_ate": None if send_until_hour is None else str(send_until_hour),
            "cron": _cron(schedule_at, zone) if schedule_at else None,
        }
    )
    files = {"audio": _audio(audio)} if audio is not None else {}
    return Operation("POST", "/sms/send", _model(SmsResult), {**params, **_campos(fields)}, files)


def message_status(message_id: str) -> Operation[MessageStatus]:
    return Operation("GET", "/sms/status", _model(MessageStatus), {"code": message_id}, safe=True)


def cancel_message(message_id: str) -> Operation[CanceledMessage]:
    return Operation("GET", "/sms/remove", _model(CanceledMessage), {"code": message_id})


def upload_audio(audio: AudioInput) -> Operation[AudioUpload]:
    return Operation("POST", "/sms/audio", _model(AudioUpload), files={"audio": _audio(audio)})


def _display(value: datetime | None, zone: ZoneInfo) -> str | None:
    return None if value is None else _wall_clock(value, zone).strftime("%Y-%m-%d %H:%M:%S")


def received_messages(
    start: datetime | None, end: datetime | None, *, page: int, per_page: int | None, zone: ZoneInfo
) -> Operation[ReceivedPage]:
    """Without ``start``/``end`` the service answers the last 24 hours."""
    params = _drop_none(
        {
            "data_inicio": _display(start, zone),
            "data_fim": _display(end, zone),
            "pagina": str(page),
            "itens_por_pagina": None if per_page is None else str(per_page),
        }
    )
    messages = _list_of(ReceivedMessage)

    def parse(envelope: dict[str, Any], zone: ZoneInfo) -> ReceivedPage:
        total = envelope.get("total")
        return ReceivedPage(
            messages=messages(envelope, zone),
            page=page,
            pages=int(envelope.get("paginas") or 1),
            total=None if total in (None, "") else int(total),
        )

    return Operation("POST", "/sms/recebimento", parse, params, safe=True)


# --- statement --------------------------------------------------------------------------------


class StatementFilters(TypedDict, total=False):
    """Keyword filters of the statement methods; see :class:`StatementQuery`."""

    origin: str | None
    destination: str | None
    call_id: str | None
    fields: Mapping[str, str] | None
    include_fields: bool
    all_pins: bool
    filter_type: str | None
    show_player: bool
    recordings_only: bool


@dataclass(frozen=True)
class StatementQuery:
    """The filters of ``/extrato/list`` (and ``list-recordings`` when ``recordings_only``).

    ``start``/``end`` as dates cover whole days (``end`` up to 23:59:59). ``fields`` filters by custom
    field equality; ``include_fields`` asks each row to carry its ``campos``.
    """

    start: date | datetime
    end: date | datetime
    origin: str | None = None
    destination: str | None = None
    call_id: str | None = None
    fields: Mapping[str, str] | None = None
    include_fields: bool = False
    all_pins: bool = False
    filter_type: str | None = None
    show_player: bool = False
    recordings_only: bool = False


def _range_params(
    start: date | datetime, end: date | datetime, page: int, zone: ZoneInfo, **filters: str | None
) -> dict[str, str]:
    return _drop_none(
        {
            "dataInicial": _ymdhis(start, zone, end_of_day=False),
            "dataFinal": _ymdhis(end, zone, end_of_day=True),
            **filters,
            "pagina": str(page),
        }
    )


def _paged(row_model: type[M], page: int, build: Callable[..., P]) -> Parser[P]:
    rows = _list_of(row_model)

    def parse(envelope: dict[str, Any], zone: ZoneInfo) -> P:
        return build(rows=rows(envelope, zone), page=page, pages=int(envelope.get("paginas") or 0))

    return parse


def statement(query: StatementQuery, page: int, zone: ZoneInfo) -> Operation[StatementPage]:
    params = _range_params(
        query.start,
        query.end,
        page,
        zone,
        numeroOrigem=query.origin,
        numeroDestino=query.destination,
        callerid=query.call_id,
        tipoFiltro=query.filter_type,
        getAllPins="true" if query.all_pins else None,
        mostrarPlayer="s" if query.show_player else None,
        **{"campos[search]": "1" if query.include_fields else None},
    )
    parse = _paged(Recording if query.recordings_only else StatementRow, page, StatementPage)
    path = "/extrato/list-recordings" if query.recordings_only else "/extrato/list"
    return Operation(
        "POST", path, parse, {**params, **_campos(query.fields)}, safe=True, format_param="formato"
    )


class MessageFilters(TypedDict, total=False):
    """Keyword filters of the message statement methods; see :class:`MessageQuery`."""

    origin: str | None
    destination: str | None
    message_id: str | None
    kind: Literal["texto", "voz"] | None
    fields: Mapping[str, str] | None
    include_fields: bool
    all_pins: bool


@dataclass(frozen=True)
class MessageQuery:
    """The filters of ramal's ``/extrato/list-messages`` (``kind``: ``texto`` SMS, ``voz`` voice)."""

    start: date | datetime
    end: date | datetime
    origin: str | None = None
    destination: str | None = None
    message_id: str | None = None
    kind: Literal["texto", "voz"] | None = None
    fields: Mapping[str, str] | None = None
    include_fields: bool = False
    all_pins: bool = False


def message_statement(query: MessageQuery, page: int, zone: ZoneInfo) -> Operation[MessagePage]:
    params = _range_params(
        query.start,
        query.end,
        page,
        zone,
        numeroOrigem=query.origin,
        numeroDestino=query.destination,
        callerid=query.message_id,
        tipo=query.kind,
        getAllPins="true" if query.all_pins else None,
        **{"campos[search]": "1" if query.include_fields else None},
    )
    return Operation(
        "POST",
        "/extrato/list-messages",
        _paged(MessageRow, page, MessagePage),
        {**params, **_campos(query.fields)},
        safe=True,
        format_param="formato",
    )


# --- callbacks --------------------------------------------------------------------------------

_CALLBACK_PATHS: dict[CallbackKind, tuple[str, str, str]] = {
    "call": ("/voz/add-callback", "/voz/list-callback", "/voz/remove-callback"),
    "sms": ("/sms/add-callback-status", "/sms/list-callback", "/sms/remove-callback"),
}


def add_callback(url: str, *, kind: CallbackKind, pin: str | None) -> Operation[CallbackEndpoint]:
    endpoint = _model(CallbackEndpoint)

    def parse(envelope: dict[str, Any], zone: ZoneInfo) -> CallbackEndpoint:
        members = {key: value for key, value in envelope.items() if key != "status"}  # envelope's "ok"
        return endpoint({"url": url, "pin": pin, **members}, zone)

    params = _drop_none({"url": url, "pin": pin})
    return Operation("POST", _CALLBACK_PATHS[kind][0], parse, params, success=ADD_CALLBACK_SUCCESS)


def list_callbacks(*, kind: CallbackKind) -> Operation[list[CallbackEndpoint]]:
    return Operation("POST", _CALLBACK_PATHS[kind][1], _list_of(CallbackEndpoint), safe=True)


def remove_callback(code: str, *, kind: CallbackKind) -> Operation[str]:
    return Operation("POST", _CALLBACK_PATHS[kind][2], _message, {"code": code})
