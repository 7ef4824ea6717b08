"""ramal's own admin API for callback deliveries: the log, replay, resume, signing secrets.

Not part of the Directcall contract: paths live under ``/ramal/callbacks/`` and answer the usual
envelope (``api`` ``ramal``) so the same client code can call them. Everything is scoped to the
account of the ``access_token``; another account's ``code`` is reported as unknown (009).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.delivery.log import LoggedDelivery, parse_since
from ramal.services.callbacks import SecretInfo
from ramal.services.errors import NotFound
from ramal.store.repositories.deliveries import DeliveryFilter
from ramal.wire.codes import Code
from ramal.wire.dates import format_display
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError, parameter_error

API = "ramal"
FORMAT = ParamDoc("format", "JSON (default) or XML")
CODE = ParamDoc("code", "Endpoint code (40 hex)")
EVENT = ParamDoc("evento", "Event id (the webhook-id header)")
SINCE = ParamDoc("desde", "90s, 30m, 2h, 7d or an ISO-8601 time")
_TAGS = ("callbacks",)
T = TypeVar("T")


def _filter(ctx: Context, *, failed: bool = False) -> DeliveryFilter:
    since_text = ctx.params.optional("desde", max_length=40)
    try:
        since = None if since_text is None else parse_since(since_text, ctx.container.clock.now())
    except ValueError:
        raise parameter_error("Parametro desde invalido: use 90s, 30m, 2h, 7d ou uma data ISO-8601") from None
    return DeliveryFilter(
        account_id=ctx.principal.account_id,
        since=since,
        failed_only=failed,
        endpoint_code=ctx.params.optional("code", max_length=64),
        event_id=ctx.params.optional("evento", max_length=64),
    )


@endpoint(
    "/ramal/callbacks/deliveries",
    api=API,
    modulo="callback-deliveries",
    summary="ramal extension: delivery log (attempts, HTTP status, latency, response start, error)",
    params=(
        SINCE,
        CODE,
        EVENT,
        ParamDoc("falhas", "s: only failed or failing deliveries"),
        ParamDoc("limite", "At most this many (1-1000, default 100)"),
        FORMAT,
    ),
    tags=_TAGS,
)
async def deliveries(ctx: Context) -> Envelope:
    where = _filter(ctx, failed=ctx.params.yes_no("falhas"))
    limit = ctx.params.integer("limite", default=100, minimum=1, maximum=1000)
    found = await ctx.run(ctx.container.delivery_log.find, where, limit)
    items = [_delivery(item, ctx.principal.timezone) for item in found]
    return Envelope(API, "callback-deliveries", items, extras={"total": len(items)})


@endpoint(
    "/ramal/callbacks/replay",
    api=API,
    modulo="callback-replay",
    summary="ramal extension: send deliveries again (by evento or desde, optionally one code)",
    params=(EVENT, SINCE, CODE, FORMAT),
    tags=_TAGS,
)
async def replay(ctx: Context) -> Envelope:
    where = _filter(ctx)
    if where.event_id is None and where.since is None:
        raise parameter_error("Informe evento ou desde")
    count = await ctx.run(ctx.container.delivery_log.replay, where)
    return Envelope(API, "callback-replay", f"{count} entregas reenfileiradas", extras={"total": count})


@endpoint(
    "/ramal/callbacks/resume",
    api=API,
    modulo="callback-resume",
    summary="ramal extension: re-enable a paused or disabled endpoint and resend its backlog",
    params=(ParamDoc("code", "Endpoint code", required=True), FORMAT),
    tags=_TAGS,
)
async def resume(ctx: Context) -> Envelope:
    code = ctx.params.required("code", max_length=64)
    count = await _owned(ctx.run(ctx.container.callbacks.resume, code, ctx.principal.account_id), code)
    return Envelope(API, "callback-resume", "Callback reativado", extras={"code": code, "pendentes": count})


@endpoint(
    "/ramal/callbacks/secret",
    api=API,
    modulo="callback-secret",
    summary="ramal extension: the endpoint's Standard Webhooks signing secret(s)",
    params=(ParamDoc("code", "Endpoint code", required=True), FORMAT),
    tags=_TAGS,
)
async def secret(ctx: Context) -> Envelope:
    code = ctx.params.required("code", max_length=64)
    info = await _owned(ctx.run(ctx.container.callbacks.secret, code, ctx.principal.account_id), code)
    return _secret_envelope("callback-secret", info, ctx.principal.timezone)


@endpoint(
    "/ramal/callbacks/rotate-secret",
    api=API,
    modulo="callback-rotate-secret",
    summary="ramal extension: new signing secret; the old one keeps signing during the overlap window",
    params=(ParamDoc("code", "Endpoint code", required=True), FORMAT),
    tags=_TAGS,
)
async def rotate_secret(ctx: Context) -> Envelope:
    code = ctx.params.required("code", max_length=64)
    info = await _owned(ctx.run(ctx.container.callbacks.rotate_secret, code, ctx.principal.account_id), code)
    return _secret_envelope("callback-rotate-secret", info, ctx.principal.timezone)


async def _owned(work: Awaitable[T], code: str) -> T:
    try:
        return await work
    except NotFound:
        raise WireError(Code.CODE_NOT_FOUND, f"Campo code {code} nao existe") from None


def _secret_envelope(modulo: str, info: SecretInfo, zone: ZoneInfo) -> Envelope:
    expires = info.previous_secret_expires_at
    return Envelope(
        API,
        modulo,
        "OK",
        extras={
            "code": info.code,
            "secret": info.secret,
            "secret_anterior": info.previous_secret,
            "secret_anterior_expira": None if expires is None else format_display(expires, zone),
        },
    )


def _delivery(item: LoggedDelivery, zone: ZoneInfo) -> dict[str, Any]:
    d = item.delivery

    def when(value: Any) -> str | None:
        return None if value is None else format_display(value, zone)

    return {
        "evento": d.event_id,
        "tipo": d.event_type,
        "callerid": d.subject_id,
        "sequencia": d.sequence,
        "code": d.endpoint_code,
        "estado": d.state,
        "tentativas": d.attempts,
        "proxima_tentativa": when(d.next_attempt_at) if d.state == "pending" else None,
        "ultimo_status_http": d.last_status_code,
        "ultimo_erro": d.last_error,
        "criado_em": when(d.created_at),
        "entregue_em": when(d.delivered_at),
        "historico": [
            {
                "em": when(a.attempted_at),
                "status_http": a.status_code,
                "latencia_ms": a.latency_ms,
                "resposta": a.response_snippet,
                "erro": a.error,
            }
            for a in item.attempts
        ],
    }
