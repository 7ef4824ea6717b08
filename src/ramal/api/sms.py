"""``/sms/*``: SMS and voice messages (contract §5). Wire names in, :class:`SendRequest` out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.errors import Conflict
from ramal.services.message_text import MAX_TEXT_LENGTH, SendWindow
from ramal.services.messages import (
    HOME_COUNTRY_CODE,
    INTERNATIONAL_PREFIX,
    MessageKind,
    MessageStatus,
    SendRequest,
)
from ramal.store.repositories.messages import MessageRow
from ramal.wire import dates
from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError, parameter_error
from ramal.wire.messages import MESSAGE_STATUS_WORDS
from ramal.wire.params import Params, UploadedFile

KINDS = {"texto": MessageKind.SMS, "voz": MessageKind.VOICE}
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS = 10
MAX_DESTINO_LENGTH = 200_000
RECEIVED_PAGE_SIZE = 50
MAX_RECEIVED_PAGE_SIZE = 500
RECEIVED_DEFAULT_SPAN = timedelta(days=1)
_CSV_NUMBER = re.compile(rb"\d+")


# --- /sms/send -----------------------------------------------------------------------------------


@endpoint(
    "/sms/send",
    api="sms",
    modulo="enviar",
    summary="Send an SMS (tipo=texto) or a voice message (tipo=voz) to one or more numbers",
    params=(
        ParamDoc("origem", "Sender number (DDI+DDD+number)", required=True),
        ParamDoc("destino", "Recipient(s), several joined with ; (international ones prefixed 00)"),
        ParamDoc("destino_csv", "CSV file of recipients, any non-digit separator", kind="file"),
        ParamDoc("texto", f"Text, up to {MAX_TEXT_LENGTH} characters (spoken for tipo=voz)"),
        ParamDoc("tipo", "texto (default, SMS) or voz (voice message)"),
        ParamDoc("audio", "MP3 up to 4 MB for tipo=voz", kind="file"),
        ParamDoc("audio_id", "An audio registered with /sms/audio, for tipo=voz"),
        ParamDoc("cron", "Schedule, d-m-Y-H-i-s (account time zone)"),
        ParamDoc("num_tentativas", "Voice delivery attempts (1-10, default 3)"),
        ParamDoc("enviar_de", "Daily send window: first hour (0-23)"),
        ParamDoc("enviar_ate", "Daily send window: hour it closes (0-23)"),
        ParamDoc("short_number", "s/n: send through a short number (140-character segments)"),
        ParamDoc("id_origem", "s/n: prefix the origin number to the text"),
        ParamDoc("campos[KEY]", "Custom fields kept with each message"),
        ParamDoc("format", "JSON (default) or XML"),
    ),
)
async def send(ctx: Context) -> Envelope:
    request = _send_request(ctx.params, ctx.principal.timezone)
    result = await ctx.run(ctx.container.messages.send, ctx.principal, request)
    return Envelope(
        "sms",
        "enviar",
        f"001 - Mensagem enviada com sucessso - CALLER-ID: {result.callerid}",  # sic: the real typo
        extras={"destino": result.destinations, "callerid": result.callerid},
    )


def _send_request(params: Params, zone: ZoneInfo) -> SendRequest:
    tipo = params.choice("tipo", KINDS, default="texto")
    assert tipo is not None
    cron = params.optional("cron", max_length=32)
    return SendRequest(
        kind=KINDS[tipo],
        origin=params.required("origem", max_length=32),
        destinations=_destinations(params),
        text=params.optional("texto", max_length=MAX_TEXT_LENGTH),
        audio=_upload(params, "audio"),
        audio_id=params.optional("audio_id", max_length=64),
        scheduled_for=None if cron is None else dates.parse_cron("cron", cron, zone),
        max_attempts=_attempts(params),
        window=_window(params),
        short_number=params.yes_no("short_number"),
        prefix_origin=params.yes_no("id_origem"),
        campos=params.custom_fields(),
    )


def _destinations(params: Params) -> list[str]:
    listed = params.optional("destino", max_length=MAX_DESTINO_LENGTH)
    csv = _upload(params, "destino_csv")
    if csv is None:  # some clients send the list as a plain form field
        field = params.optional("destino_csv", max_length=MAX_DESTINO_LENGTH)
        csv = None if field is None else field.encode()
    if listed is not None and csv is not None:
        raise parameter_error("Informe destino ou destino_csv, nao ambos")
    if csv is not None:
        numbers = [match.decode() for match in _CSV_NUMBER.findall(csv)]
        if not numbers:
            raise parameter_error("Parametro destino_csv invalido: o arquivo nao contem nenhum numero")
        return numbers
    if listed is None:
        raise parameter_error("Parametro destino nao informado")
    return [part.strip() for part in listed.split(";") if part.strip()]


def _upload(params: Params, name: str) -> bytes | None:
    uploaded: UploadedFile | None = params.file(name)
    if uploaded is not None:
        return uploaded.data
    if name == "audio" and params.optional(name) is not None:
        raise parameter_error("Parametro audio invalido: envie o MP3 como arquivo (multipart/form-data)")
    return None


def _attempts(params: Params) -> int:
    value = params.optional("num_tentativas", max_length=32)
    if value is None or not value.isdigit():  # contract: 3 when absent or not numeric
        return DEFAULT_ATTEMPTS
    return params.integer("num_tentativas", default=DEFAULT_ATTEMPTS, minimum=1, maximum=MAX_ATTEMPTS)


def _window(params: Params) -> SendWindow | None:
    start = params.optional("enviar_de", max_length=8)
    end = params.optional("enviar_ate", max_length=8)
    if start is None and end is None:
        return None
    first = params.integer("enviar_de", default=0, minimum=0, maximum=23)
    last = params.integer("enviar_ate", default=24, minimum=0, maximum=23) if end is not None else 24
    try:
        return SendWindow(first, last)
    except ValueError:
        raise parameter_error(
            "Parametros enviar_de e enviar_ate invalidos: a janela de envio e vazia"
        ) from None


# --- /sms/audio ----------------------------------------------------------------------------------


@endpoint(
    "/sms/audio",
    api="sms",
    modulo="recebimento",  # sic: the contract's modulo for this endpoint
    summary="Register an MP3 (up to 4 MB) for voice messages; returns its audio_id",
    params=(ParamDoc("audio", "MP3 file", required=True, kind="file"), ParamDoc("format", "JSON or XML")),
)
async def audio(ctx: Context) -> Envelope:
    data = _upload(ctx.params, "audio")
    if data is None:
        raise parameter_error("Parametro audio nao informado: envie o MP3 como arquivo (multipart/form-data)")
    audio_id = await ctx.run(ctx.container.messages.upload_audio, ctx.principal, data)
    return Envelope(
        "sms",
        "recebimento",
        f"Audio Cadastrado com sucesso - AUDIO_ID: {audio_id}",
        extras={"audio_id": audio_id},
    )


# --- /sms/status ---------------------------------------------------------------------------------


@endpoint(
    "/sms/status",
    api="sms",
    modulo="status",
    summary="Delivery status of a send (code = the callerid /sms/send returned)",
    params=(ParamDoc("code", "The callerid of the send", required=True), ParamDoc("format", "JSON or XML")),
)
async def status(ctx: Context) -> Envelope:
    callerid = ctx.params.required("code", max_length=64)
    rows = await ctx.run(ctx.container.messages.status, ctx.principal, callerid)
    now = ctx.container.clock.now()
    details = [_detail(row, now) for row in rows]
    if len(details) == 1:
        msg = details[0]["descricao"]
    else:
        msg = "; ".join(f"{d['destino']}: {d['descricao']}" for d in details)
    return Envelope("sms", "status", msg, extras={"callerid": callerid, "destinos": details})


_FAILURES = {
    "expired": "Nao recebida: aparelho indisponivel, prazo de entrega expirado",
    "invalid_number": "Nao recebida: numero invalido",
    "rejected": "Nao recebida: rejeitada pela operadora",
    "busy": "Nao recebida: ocupado em todas as tentativas",
}


def _describe(row: MessageRow, now: datetime) -> tuple[str, str]:
    """``(status word, sentence)`` of one recipient, in the service's Portuguese."""
    voice = row.kind == MessageKind.VOICE
    zone = ZoneInfo(row.timezone)
    match MessageStatus(row.status):
        case MessageStatus.QUEUED if row.scheduled_at is not None and row.scheduled_at > now:
            return "agendada", f"Agendada para {dates.format_display(row.scheduled_at, zone)}"
        case MessageStatus.QUEUED:
            return MESSAGE_STATUS_WORDS["queued"], "Na fila de envio"
        case MessageStatus.SENT if voice:
            return "em andamento", f"Em andamento: tentativa {row.attempts} de {row.max_attempts}"
        case MessageStatus.SENT:
            return MESSAGE_STATUS_WORDS["sent"], "Enviada, aguardando o aparelho"
        case MessageStatus.DELIVERED:
            return MESSAGE_STATUS_WORDS[
                "delivered"
            ], "Mensagem de voz entregue (atendida)" if voice else "Entregue ao aparelho"
        case MessageStatus.CANCELED:
            return MESSAGE_STATUS_WORDS["canceled"], "Cancelada"
        case MessageStatus.RECEIVED:
            return MESSAGE_STATUS_WORDS["received"], "Recebida"
        case MessageStatus.FAILED if row.end_reason == "no_answer":
            return MESSAGE_STATUS_WORDS[
                "failed"
            ], f"Nao recebida: nao atendida apos {row.attempts} tentativa(s)"
        case _:
            return MESSAGE_STATUS_WORDS["failed"], _FAILURES.get(row.end_reason or "", "Nao recebida")


def _detail(row: MessageRow, now: datetime) -> dict[str, Any]:
    word, sentence = _describe(row, now)
    zone = ZoneInfo(row.timezone)
    return {
        "destino": _wire_number(row.destination),
        "tipo": "voz" if row.kind == MessageKind.VOICE else "texto",
        "status": word,
        "descricao": sentence,
        "partes": row.segments,
        "tentativas": row.attempts,
        "agendada_para": dates.format_display(row.scheduled_at, zone),
        "enviada_em": dates.format_display(row.sent_at, zone),
        "entregue_em": dates.format_display(row.delivered_at, zone),
    }


def _wire_number(stored: str) -> str:
    return stored if stored.startswith(HOME_COUNTRY_CODE) else INTERNATIONAL_PREFIX + stored


# --- /sms/remove ---------------------------------------------------------------------------------


@endpoint(
    "/sms/remove",
    api="sms",
    modulo="remover",
    summary="Cancel a scheduled (or not yet sent) send by its callerid",
    params=(ParamDoc("code", "The callerid of the send", required=True), ParamDoc("format", "JSON or XML")),
)
async def remove(ctx: Context) -> Envelope:
    callerid = ctx.params.required("code", max_length=64)
    try:
        canceled = await ctx.run(ctx.container.messages.cancel, ctx.principal, callerid)
    except Conflict as already_sent:  # nothing left to cancel: the contract's 010 covers it
        raise WireError(Code.IDENTIFIER_NOT_FOUND, already_sent.detail) from None
    return Envelope(
        "sms",
        "remover",
        f"Envio cancelado com sucesso: {len(canceled)} mensagem(ns)",
        extras={"code": callerid, "destino": [_wire_number(row.destination) for row in canceled]},
    )


# --- /sms/recebimento ----------------------------------------------------------------------------


@endpoint(
    "/sms/recebimento",
    api="sms",
    modulo="recebimento",
    summary="SMS received on the account's numbers between two times, paged",
    params=(
        ParamDoc("data_inicio", "Y-m-d H:i:s (default: 24 hours before data_fim)"),
        ParamDoc("data_fim", "Y-m-d H:i:s (default: now)"),
        ParamDoc("pagina", "Page number, from 1"),
        ParamDoc("itens_por_pagina", f"Items per page (1-{MAX_RECEIVED_PAGE_SIZE}, default 50)"),
        ParamDoc("format", "JSON or XML"),
    ),
)
async def received(ctx: Context) -> Envelope:
    params, zone = ctx.params, ctx.principal.timezone
    end = _display_time(params, "data_fim", zone) or ctx.container.clock.now()
    start = _display_time(params, "data_inicio", zone) or end - RECEIVED_DEFAULT_SPAN
    page = params.integer("pagina", default=1, minimum=1, maximum=1_000_000)
    per_page = params.integer(
        "itens_por_pagina", default=RECEIVED_PAGE_SIZE, minimum=1, maximum=MAX_RECEIVED_PAGE_SIZE
    )
    result = await ctx.run(ctx.container.messages.received, ctx.principal, start, end, page, per_page)
    items = [
        {
            "callerid": row.callerid,
            "origem": row.origin,
            "destino": row.destination,
            "texto": row.text,
            "data": dates.format_display(row.started_at, zone),
        }
        for row in result.messages
    ]
    pages = max(1, -(-result.total // per_page))
    return Envelope(
        "sms",
        "recebimento",
        items,
        extras={"pagina": page, "paginas": pages, "total": result.total},
    )


def _display_time(params: Params, name: str, zone: ZoneInfo) -> datetime | None:
    text = params.optional(name, max_length=32)
    return None if text is None else dates.parse_display(name, text, zone)
