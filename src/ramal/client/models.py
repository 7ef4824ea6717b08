"""Typed results: English attribute names over the wire's Portuguese keys.

Every model reads the wire key as its alias (``call.call_id`` is ``callerid``), keeps keys it does not
know in ``model_extra`` (the service may add fields; an SDK must not break on them), and is frozen.
Wire timestamps (``YYYY-MM-DD HH:MM:SS``, wall-clock time of the account) become aware ``datetime``s in
the zone passed as validation context (the client's ``timezone``, ``America/Sao_Paulo`` by default),
durations (``HH:MM:SS``) become ``timedelta``s, and ``campos`` is always a ``dict[str, str]``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

DEFAULT_TIMEZONE = "America/Sao_Paulo"
WIRE_DATETIME = "%Y-%m-%d %H:%M:%S"


def _zone(info: ValidationInfo) -> ZoneInfo:
    context = info.context if isinstance(info.context, dict) else {}
    zone = context.get("zone")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(DEFAULT_TIMEZONE)


def _wire_datetime(value: Any, info: ValidationInfo) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.strptime(value.strip(), WIRE_DATETIME)
        except ValueError:
            parsed = datetime.fromisoformat(value.strip())
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_zone(info))
    return value


def _wire_duration(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.count(":") == 2:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return value


def _wire_fields(value: Any) -> Any:
    # PHP encodes an empty map as [], our XML as an empty element: both mean "no fields".
    if value in (None, "", []):
        return {}
    if isinstance(value, dict):
        return {str(key): "" if item is None else str(item) for key, item in value.items()}
    return value


def _wire_list(value: Any) -> Any:
    if value in (None, ""):
        return []
    return [value] if isinstance(value, str | dict) else value


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


WireDateTime = Annotated[datetime | None, BeforeValidator(_wire_datetime)]
WireDuration = Annotated[timedelta | None, BeforeValidator(_wire_duration)]
Fields = Annotated[dict[str, str], BeforeValidator(_wire_fields)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]


class WireModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)


# --- auth -------------------------------------------------------------------------------------


class Token(WireModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth word, not a secret
    expires_in: int | None = None  # seconds; the real service does not document it (3600 in practice)


class TokenInfo(WireModel):
    """ramal's ``/ramal/token-info``: who a token belongs to."""

    pin: str
    account: int = Field(alias="conta")
    admin: bool = False
    timezone: str = Field(default=DEFAULT_TIMEZONE, alias="fuso_horario")


# --- calls ------------------------------------------------------------------------------------


class Call(WireModel):
    """A call request accepted by ``/voz/call``."""

    call_id: str = Field(alias="callerid")
    message: str = Field(default="", alias="msg")
    schedule_id: OptionalText = Field(default=None, alias="agendamentoId")


class CallStatus(WireModel):
    """One leg of a call in progress, from ``/voz/status``."""

    phone: str = Field(alias="telefone")  # display-formatted by the service: " 55 41  3017 5726"
    status: str  # atendida, chamando, ocupado, ... (docs/compat.md §3)
    started_at: WireDateTime = Field(default=None, alias="inicio")
    duration: WireDuration = Field(default=None, alias="duracao")
    call_id: OptionalText = Field(default=None, alias="callerid")  # ramal adds it

    @property
    def phone_digits(self) -> str:
        return "".join(ch for ch in self.phone if ch.isdigit())


class EndedCall(WireModel):
    """``/voz/end``: the call hung up (ramal adds ``callerid`` and ``status_chamada``)."""

    message: str = Field(default="", alias="msg")
    call_id: OptionalText = Field(default=None, alias="callerid")
    status: OptionalText = Field(default=None, alias="status_chamada")


class ScheduledCall(WireModel):
    """``/voz/status-agendamento``: ``call`` is the original ``/voz/call`` answer once placed."""

    message: str = Field(default="", alias="msg")
    schedule_id: OptionalText = Field(default=None, alias="agendamentoId")
    situation: OptionalText = Field(default=None, alias="situacao")  # pendente | executado | cancelado
    call: Call | None = Field(default=None, alias="retorno")

    @field_validator("call", mode="before")
    @classmethod
    def _no_call_yet(cls, value: Any) -> Any:
        return None if value in ("", []) else value


# --- messages ---------------------------------------------------------------------------------


class SmsResult(WireModel):
    """An SMS or voice message accepted by ``/sms/send``; ``message_id`` is its ``callerid``."""

    message_id: str = Field(alias="callerid")
    destinations: Annotated[list[str], BeforeValidator(_wire_list)] = Field(
        default_factory=list, alias="destino"
    )
    message: str = Field(default="", alias="msg")  # e.g. "001 - Mensagem enviada com sucessso - ..."


class RecipientStatus(WireModel):
    """One recipient of a send, as ramal details it in ``/sms/status`` (``destinos``)."""

    destination: str = Field(alias="destino")
    kind: OptionalText = Field(default=None, alias="tipo")  # texto | voz
    status: OptionalText = None  # entregue, na fila, aguardando aparelho, nao entregue, ...
    description: OptionalText = Field(default=None, alias="descricao")
    segments: int | None = Field(default=None, alias="partes")
    attempts: int | None = Field(default=None, alias="tentativas")
    scheduled_for: WireDateTime = Field(default=None, alias="agendada_para")
    sent_at: WireDateTime = Field(default=None, alias="enviada_em")
    delivered_at: WireDateTime = Field(default=None, alias="entregue_em")


class MessageStatus(WireModel):
    """``/sms/status``: the service describes the state in ``msg``; ramal adds one row per recipient."""

    message: str = Field(alias="msg")
    message_id: OptionalText = Field(default=None, alias="callerid")
    recipients: Annotated[list[RecipientStatus], BeforeValidator(_wire_list)] = Field(
        default_factory=list, alias="destinos"
    )


class CanceledMessage(WireModel):
    """``/sms/remove``: the recipients whose messages were still waiting and are now cancelled."""

    message: str = Field(default="", alias="msg")
    message_id: OptionalText = Field(default=None, alias="code")
    destinations: Annotated[list[str], BeforeValidator(_wire_list)] = Field(
        default_factory=list, alias="destino"
    )


class AudioUpload(WireModel):
    audio_id: str
    message: str = Field(default="", alias="msg")


class ReceivedMessage(WireModel):
    """An inbound SMS from ``/sms/recebimento``."""

    message_id: OptionalText = Field(default=None, alias="callerid")
    origin: OptionalText = Field(default=None, alias="origem")
    destination: OptionalText = Field(default=None, alias="destino")
    text: OptionalText = Field(default=None, alias="texto")
    received_at: WireDateTime = Field(default=None, alias="data")


class ReceivedPage(WireModel):
    messages: list[ReceivedMessage]
    page: int
    pages: int
    total: int | None = None


# --- statement --------------------------------------------------------------------------------


class StatementRow(WireModel):
    """One call of ``/extrato/list``."""

    call_id: OptionalText = Field(default=None, alias="callerid")
    origin: str = Field(default="", alias="origem")
    destination: str = Field(default="", alias="destino")
    started_at: WireDateTime = Field(default=None, alias="inicio")
    answered_at: WireDateTime = Field(default=None, alias="atendimento")
    ended_at: WireDateTime = Field(default=None, alias="fim")
    duration: WireDuration = Field(default=None, alias="duracao")
    billable_seconds: int | None = Field(default=None, alias="segundos_tarifados")
    status: OptionalText = None
    direction: OptionalText = Field(default=None, alias="direcao")
    pin: OptionalText = None
    recording_url: OptionalText = Field(default=None, alias="gravacao_link")
    recording_status: OptionalText = Field(default=None, alias="gravacao_status")  # disponivel | expirada
    player: OptionalText = None  # HTML5 <audio> snippet, with show_player=True
    fields: Fields = Field(default_factory=dict, alias="campos")


class Recording(StatementRow):
    """A row of ``/extrato/list-recordings``: a call with its recording link."""

    recording_url: str = Field(alias="gravacao_link")


class StatementPage(WireModel):
    rows: list[StatementRow]
    page: int
    pages: int


class MessageRow(WireModel):
    """One SMS or voice message of ramal's ``/extrato/list-messages``."""

    message_id: OptionalText = Field(default=None, alias="callerid")
    origin: str = Field(default="", alias="origem")
    destination: str = Field(default="", alias="destino")
    started_at: WireDateTime = Field(default=None, alias="inicio")
    kind: OptionalText = Field(default=None, alias="tipo")  # texto | voz
    direction: OptionalText = Field(default=None, alias="direcao")
    status: OptionalText = None
    sent_at: WireDateTime = Field(default=None, alias="envio")
    delivered_at: WireDateTime = Field(default=None, alias="entrega")
    segments: int | None = Field(default=None, alias="segmentos")
    attempts: int | None = Field(default=None, alias="tentativas")
    pin: OptionalText = None
    fields: Fields = Field(default_factory=dict, alias="campos")


class MessagePage(WireModel):
    rows: list[MessageRow]
    page: int
    pages: int


# --- callbacks --------------------------------------------------------------------------------


class CallbackEndpoint(WireModel):
    """A registered callback URL (``code`` is the 40-hex handle to remove it)."""

    code: str
    url: OptionalText = None  # as registered; ramal masks a user:pass password in lists
    pin: OptionalText = None
    secret: OptionalText = None  # ramal: the whsec_ key deliveries are signed with (shown on add)
    state: OptionalText = Field(default=None, alias="status")  # ativo | pausado | desativado (lists)
    paused: bool = Field(default=False, alias="pausado")
    reason: OptionalText = Field(default=None, alias="motivo")
    failing_since: WireDateTime = Field(default=None, alias="falhando_desde")
    created_at: WireDateTime = Field(default=None, alias="data_cadastro")
    message: OptionalText = Field(default=None, alias="msg")


CallEventType = Literal[
    "call.queued",
    "call.ringing",
    "call.answered",
    "call.completed",
    "call.busy",
    "call.no_answer",
    "call.failed",
    "call.canceled",
    "call.incoming",
]
MessageEventType = Literal[
    "message.queued",
    "message.sent",
    "message.delivered",
    "message.failed",
    "message.canceled",
    "message.received",
]


class CallbackEvent(WireModel):
    """What ramal POSTs to a callback URL as ``data=<JSON>``; see :func:`ramal.client.parse_callback`."""

    event: str = Field(alias="evento")
    event_time: WireDateTime = Field(default=None, alias="data_evento")
    final: bool = False
    call_id: OptionalText = Field(default=None, alias="callerid")
    origin: OptionalText = Field(default=None, alias="origem")
    destination: OptionalText = Field(default=None, alias="destino")
    status: OptionalText = None
    direction: OptionalText = Field(default=None, alias="direcao")
    pin: OptionalText = None
    fields: Fields = Field(default_factory=dict, alias="campos")


class CallEvent(CallbackEvent):
    """A call's status change (``call.*``); ``final`` is true on its one terminal event."""

    event: CallEventType = Field(alias="evento")
    started_at: WireDateTime = Field(default=None, alias="inicio")
    answered_at: WireDateTime = Field(default=None, alias="atendimento")
    ended_at: WireDateTime = Field(default=None, alias="fim")
    duration: WireDuration = Field(default=None, alias="duracao")
    billable_duration: WireDuration = Field(default=None, alias="duracao_cobrada")
    reason: OptionalText = Field(default=None, alias="motivo")
    recording_url: OptionalText = Field(default=None, alias="gravacao_link")


class MessageEvent(CallbackEvent):
    """An SMS or voice message's status change (``message.*``); ``call_id`` is its ``callerid``."""

    event: MessageEventType = Field(alias="evento")
    message_id: OptionalText = Field(default=None, alias="id_mensagem")
    kind: OptionalText = Field(default=None, alias="tipo")
    segments: int | None = Field(default=None, alias="segmentos")
    created_at: WireDateTime = Field(default=None, alias="inicio")
    sent_at: WireDateTime = Field(default=None, alias="envio")
    delivered_at: WireDateTime = Field(default=None, alias="entrega")
    text: OptionalText = Field(default=None, alias="texto")
