"""``/voz/*``: click-to-call, its status, hang-up and scheduled calls (contract §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.calls import CallNotActive, CallRequest, CallStatus
from ramal.store.repositories.calls import CallRow
from ramal.wire import dates
from ramal.wire.calls import display_number, status_word
from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError
from ramal.wire.params import Params

CALL_ACCEPTED = "Completando a sua ligacao, por favor aguarde!"
NUMBER_MAX_LENGTH = 40
ID_MAX_LENGTH = 64
_FORMAT = ParamDoc("format", "JSON (default) or XML")
_ORIGIN = ParamDoc("origem", "Number requesting the call (first leg), DDI+DDD+number or ip+DDD+number", True)
_DESTINATION = ParamDoc("destino", "Destination number (second leg), DDI+DDD+number or ip+DDD+number", True)
_CALLERID = ParamDoc("callerid", "ramal extension: pick one call by its callerid")


def accepted(call: CallRow) -> dict[str, Any]:
    """The exact /voz/call success body; also the ``retorno`` of a scheduled call once placed."""
    return {
        "api": "voz",
        "modulo": "chamar",
        "status": "ok",
        "codigo": Code.OK.value,
        "msg": CALL_ACCEPTED,
        "callerid": call.id,
    }


@endpoint(
    "/voz/call",
    api="voz",
    modulo="chamar",
    summary="Click-to-call: ring the origin, then connect the destination",
    params=(
        _ORIGIN,
        _DESTINATION,
        ParamDoc("gravar", "s/n: record the call (recording linked from the statement)"),
        ParamDoc("inverter_discagem", "s/n: dial the destination first, then the origin"),
        ParamDoc("cron", "Schedule the call: d-m-Y-H-i-s in the account's time zone (answers agendamentoId)"),
        ParamDoc("campos[KEY]", "Custom fields kept with the call (up to 30; key 64, value 1024 chars)"),
        _FORMAT,
    ),
)
async def call(ctx: Context) -> Envelope:
    params = ctx.params
    principal = ctx.principal
    request = CallRequest(
        origin=params.required("origem", max_length=NUMBER_MAX_LENGTH),
        destination=params.required("destino", max_length=NUMBER_MAX_LENGTH),
        record=params.yes_no("gravar"),
        invert_dial=params.yes_no("inverter_discagem"),
        campos=params.custom_fields(),
        scheduled_at=_cron(params, principal.timezone),
    )
    placed = await ctx.container.calls.place_async(principal, request)
    if placed.scheduled_at is None:
        return Envelope("voz", "chamar", CALL_ACCEPTED, extras={"callerid": placed.id})
    when = dates.format_display(placed.scheduled_at, principal.timezone)
    return Envelope(
        "voz",
        "chamar",
        f"Ligacao agendada com sucesso para {when}",
        extras={"callerid": placed.id, "agendamentoId": placed.id},
    )


def _call_selector(params: Params) -> tuple[str, str, str | None]:
    """``origem``, ``destino`` and the optional ``callerid`` that pick a call on /voz/status and /voz/end."""
    return (
        params.required("origem", max_length=NUMBER_MAX_LENGTH),
        params.required("destino", max_length=NUMBER_MAX_LENGTH),
        params.optional("callerid", max_length=ID_MAX_LENGTH),
    )


def _cron(params: Params, zone: ZoneInfo) -> datetime | None:
    text = params.optional("cron", max_length=32)
    return None if text is None else dates.parse_cron("cron", text, zone)


@endpoint(
    "/voz/status",
    api="voz",
    modulo="status",
    summary="Status of the latest call between origem and destino",
    params=(_ORIGIN, _DESTINATION, _CALLERID, _FORMAT),
)
async def status(ctx: Context) -> Envelope:
    found = await ctx.run(ctx.container.calls.status, ctx.principal, *_call_selector(ctx.params))
    zone = ctx.principal.timezone
    item = {
        "telefone": display_number(found.destination),
        "status": status_word(found.status),
        "inicio": dates.format_display(found.started_at, zone),
        "duracao": dates.format_duration(ctx.container.calls.talk_seconds(found)),
        "callerid": found.id,
    }
    return Envelope("voz", "status", [item])


@endpoint(
    "/voz/end",
    api="voz",
    modulo="desligar",
    summary="Hang up the call in progress between origem and destino",
    params=(_ORIGIN, _DESTINATION, _CALLERID, _FORMAT),
)
async def end(ctx: Context) -> Envelope:
    try:
        ended = await ctx.run(ctx.container.calls.end, ctx.principal, *_call_selector(ctx.params))
    except CallNotActive as error:
        raise WireError(Code.CALL_NOT_ACTIVE, error.detail) from None
    msg = "Chamada finalizada com sucesso" if ended.status == CallStatus.COMPLETED else "Chamada cancelada"
    return Envelope(
        "voz", "desligar", msg, extras={"callerid": ended.id, "status_chamada": status_word(ended.status)}
    )


@endpoint(
    "/voz/status-agendamento",
    api="voz",
    modulo="agendamento-status",
    summary="Status of a scheduled call; retorno is the /voz/call answer once the call is placed",
    params=(
        _ORIGIN,
        ParamDoc("agendamentoId", "The agendamentoId returned by /voz/call with cron", True),
        _FORMAT,
    ),
)
async def scheduled_status(ctx: Context) -> Envelope:
    params = ctx.params
    found = await ctx.run(
        ctx.container.calls.scheduled,
        ctx.principal,
        params.required("agendamentoId", max_length=ID_MAX_LENGTH),
        params.required("origem", max_length=NUMBER_MAX_LENGTH),
    )
    when = dates.format_display(found.scheduled_at, ctx.principal.timezone)
    if found.status == CallStatus.QUEUED:
        situation, msg, retorno = "pendente", f"Ligacao agendada para {when}", None
    elif (
        found.ended_at is not None and found.scheduled_at is not None and found.ended_at < found.scheduled_at
    ):
        situation, msg, retorno = "cancelado", "Agendamento cancelado", None
    else:
        situation, msg, retorno = "executado", f"Ligacao realizada em {when}", accepted(found)
    return Envelope(
        "voz",
        "agendamento-status",
        msg,
        extras={"situacao": situation, "agendamentoId": found.id, "retorno": retorno},
    )
