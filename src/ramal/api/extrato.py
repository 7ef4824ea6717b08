"""``/extrato/*``: the statement of calls, of recorded calls, and of SMS / voice messages (contract §6).

This module is the wire half of the statement: it reads the Portuguese parameters into a
:class:`~ramal.services.statement.Criteria`, and writes each entry as a row of strings in the layout
docs/compat.md §4 documents (the contract's ``origem``, ``destino``, ``inicio``, ``gravacao_link``
first, then ramal's additions). Times are written in the account's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.errors import Forbidden
from ramal.services.messages import MessageKind
from ramal.services.statement import (
    CallEntry,
    CallFilter,
    Criteria,
    MessageEntry,
    RecordingState,
    StatementPage,
)
from ramal.wire.calls import status_word
from ramal.wire.codes import Code
from ramal.wire.dates import format_display, format_duration
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError, parameter_error
from ramal.wire.messages import DIRECTION_WORDS, MESSAGE_STATUS_WORDS
from ramal.wire.params import Params

API = "extrato"
MODULO = "extrato"  # the contract's list-recordings example answers modulo "extrato"
MAX_PAGE = 2**63 - 1  # pages are any 64-bit positive integer; past the end is an empty page
SEARCH_KEY = "search"  # campos['search']: return each row's saved custom fields
P = ParamSpec("P")
T = TypeVar("T")
_NO = frozenset({"n", "nao", "false", "0"})

TIPO_FILTRO = {
    "todas": CallFilter.ALL,
    "realizadas": CallFilter.MADE,
    "recebidas_atendidas": CallFilter.RECEIVED_ANSWERED,
    "recebidas_nao_atendidas": CallFilter.RECEIVED_UNANSWERED,
}
MESSAGE_TIPO = {"texto": MessageKind.SMS, "voz": MessageKind.VOICE}
_MESSAGE_TIPO_OUT = {kind.value: name for name, kind in MESSAGE_TIPO.items()}
_RECORDING_STATE = {RecordingState.AVAILABLE: "disponivel", RecordingState.EXPIRED: "expirada"}

_COMMON = (
    ParamDoc("access_token", "Access token", required=True),
    ParamDoc("dataInicial", "Start, YmdHis in the account's time zone (inclusive)", required=True),
    ParamDoc("dataFinal", "End, YmdHis in the account's time zone (inclusive)", required=True),
    ParamDoc("numeroOrigem", "Only this origin number"),
    ParamDoc("numeroDestino", "Only this destination number"),
    ParamDoc("callerid", "Only this call / message id"),
    ParamDoc("pagina", "Page number, 1 (default) to 2^63-1; past the end is an empty page"),
    ParamDoc("getAllPins", "true: every pin of the account (admin credentials only)"),
    ParamDoc("campos[KEY]", "Equality filter on a custom field (several are AND-ed)"),
    ParamDoc("campos['search']", "Return each row's saved custom fields in campos"),
    ParamDoc("formato", "JSON (default) or XML"),
)
_CALL_PARAMS = (
    *_COMMON,
    ParamDoc("mostrarPlayer", "s: add an HTML5 <audio> player for each available recording"),
)


@endpoint(
    "/extrato/list",
    api=API,
    modulo=MODULO,
    summary="Statement of calls made and received, newest first, paged",
    params=(
        *_CALL_PARAMS,
        ParamDoc("tipoFiltro", "todas (default), realizadas, recebidas_atendidas, recebidas_nao_atendidas"),
    ),
    format_params=("formato", "format"),
)
async def list_calls(ctx: Context) -> Envelope:
    call_filter = TIPO_FILTRO[ctx.params.choice("tipoFiltro", TIPO_FILTRO, default="todas") or "todas"]
    return await _calls(ctx, call_filter, recorded_only=False)


@endpoint(
    "/extrato/list-recordings",
    api=API,
    modulo=MODULO,
    summary="Statement of recorded calls only; expired recordings are marked",
    params=_CALL_PARAMS,
    format_params=("formato", "format"),
)
async def list_recordings(ctx: Context) -> Envelope:
    return await _calls(ctx, CallFilter.ALL, recorded_only=True)


@endpoint(
    "/extrato/list-messages",
    api=API,
    modulo=MODULO,
    summary="ramal extension: statement of SMS and voice messages, with the same filters",
    params=(*_COMMON, ParamDoc("tipo", "texto (SMS) or voz (voice message); both when omitted")),
    format_params=("formato", "format"),
)
async def list_messages(ctx: Context) -> Envelope:
    criteria = read_criteria(ctx.params, ctx.principal.timezone)
    tipo = ctx.params.choice("tipo", MESSAGE_TIPO)
    kind = MESSAGE_TIPO[tipo] if tipo is not None else None
    page = await _guarded(ctx, ctx.container.statement.messages, ctx.principal, criteria, kind)
    zone = ctx.principal.timezone
    return _envelope(page, [_message_row(entry, zone) for entry in page.entries])


async def _calls(ctx: Context, call_filter: CallFilter, *, recorded_only: bool) -> Envelope:
    criteria = read_criteria(ctx.params, ctx.principal.timezone)
    player = ctx.params.yes_no("mostrarPlayer")
    statement = ctx.container.statement
    page = await _guarded(
        ctx, statement.calls, ctx.principal, criteria, call_filter, recorded_only=recorded_only
    )
    base = ctx.container.settings.public_base_url.rstrip("/")
    zone = ctx.principal.timezone
    return _envelope(page, [_call_row(entry, zone, base, player) for entry in page.entries])


async def _guarded(ctx: Context, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the service; a refusal answers 006 without the OAuth token-error members (the token is fine)."""
    try:
        return await ctx.run(function, *args, **kwargs)
    except Forbidden as refusal:
        raise WireError(Code.AUTHENTICATION_FAILED, refusal.detail) from None


def read_criteria(params: Params, zone: ZoneInfo) -> Criteria:
    """The statement filters of a request, validated (shared with bench/statement.py)."""
    start = params.ymdhis("dataInicial", zone)
    end = params.ymdhis("dataFinal", zone)
    return Criteria(
        start=start,
        end=end,
        page=params.integer("pagina", default=1, minimum=1, maximum=MAX_PAGE),
        all_pins=params.true_false("getAllPins"),
        origin=_number(params, "numeroOrigem"),
        destination=_number(params, "numeroDestino"),
        public_id=params.optional("callerid", max_length=64),
        fields=params.custom_fields(reserved=(SEARCH_KEY,)),
        include_fields=_search_requested(params),
    )


def _number(params: Params, name: str) -> str | None:
    value = params.optional(name, max_length=32)
    if value is None:
        return None
    digits = value.lstrip("+")
    if not digits or not (digits.isascii() and digits.isalnum()):
        raise parameter_error(f"Parametro {name} invalido: use DDI+DDD+numero, somente digitos")
    return digits


def _search_requested(params: Params) -> bool:
    if SEARCH_KEY not in params.campos:
        return False
    return params.campos[SEARCH_KEY].strip().lower() not in _NO


def _envelope(page: StatementPage[Any], rows: list[dict[str, Any]]) -> Envelope:
    return Envelope(API, MODULO, rows, extras={"paginas": page.pages})


def _call_row(entry: CallEntry, zone: ZoneInfo, base: str, player: bool) -> dict[str, Any]:
    link = f"{base}/extrato/gravacao/id/{entry.recording_id}" if entry.recording_id else ""
    row: dict[str, Any] = {
        "origem": entry.origin,
        "destino": entry.destination,
        "inicio": format_display(entry.started_at, zone),
        "gravacao_link": link,
        "callerid": entry.id,
        "pin": entry.pin,
        "direcao": DIRECTION_WORDS.get(entry.direction, entry.direction),
        "status": status_word(entry.status),
        "atendimento": format_display(entry.answered_at, zone),
        "fim": format_display(entry.ended_at, zone),
        "duracao": format_duration(entry.duration_seconds),
        "segundos_tarifados": str(entry.billable_seconds),
        "gravacao_status": _RECORDING_STATE[entry.recording_state] if entry.recording_state else "",
    }
    if player:
        playable = entry.recording_state is RecordingState.AVAILABLE
        row["player"] = (
            f'<audio controls preload="none" src="{escape(link)}"></audio>' if playable and link else ""
        )
    if entry.fields is not None:
        row["campos"] = entry.fields
    return row


def _message_row(entry: MessageEntry, zone: ZoneInfo) -> dict[str, Any]:
    row: dict[str, Any] = {
        "origem": entry.origin,
        "destino": entry.destination,
        "inicio": format_display(entry.started_at, zone),
        "callerid": entry.callerid,
        "pin": entry.pin,
        "tipo": _MESSAGE_TIPO_OUT.get(entry.kind, entry.kind),
        "direcao": DIRECTION_WORDS.get(entry.direction, entry.direction),
        "status": MESSAGE_STATUS_WORDS.get(entry.status, entry.status),
        "envio": format_display(entry.sent_at, zone),
        "entrega": format_display(entry.delivered_at, zone),
        "segmentos": str(entry.segments),
        "tentativas": str(entry.attempts),
    }
    if entry.fields is not None:
        row["campos"] = entry.fields
    return row
