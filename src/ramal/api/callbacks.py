"""Directcall callback registration: ``/voz/*-callback`` (call status) and ``/sms/*-callback*`` (SMS).

Envelopes follow contract §7 verbatim where it is known: add-callback answers ``api`` ``sms`` even on
``/voz/``, and its success ``codigo`` is ``001`` (clients that treat any code above 0 as an error are
wrong about this endpoint on the real service too). Paths, ``api``/``modulo`` of remove and list, and
the list layout are inferred; docs/compat.md §5 records each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.delivery.guard import MAX_URL_LENGTH
from ramal.services.callbacks import AlreadyRemoved, Endpoint
from ramal.services.errors import NotFound
from ramal.wire.codes import Code
from ramal.wire.dates import format_display
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError

API = "sms"  # what the real add-callback answers on both families
ADDED = "URL de Callback cadastrada com sucesso."
STATE_WORDS = {"active": "ativo", "paused": "pausado", "disabled": "desativado"}
FORMAT = ParamDoc("format", "JSON (default) or XML")
CODE_MAX_LENGTH = 64


@dataclass(frozen=True)
class Family:
    kind: str  # voice | sms
    add_modulo: str
    remove_modulo: str
    list_modulo: str


VOICE = Family(
    "voice", "add-callback-status-chamada", "remove-callback-status-chamada", "list-callback-status-chamada"
)
SMS = Family("sms", "add-callback", "remove-callback", "list-callback")


async def _add(ctx: Context, family: Family) -> Envelope:
    url = ctx.params.required("url", max_length=MAX_URL_LENGTH)
    pin = ctx.params.optional("pin", max_length=32)
    registered = await ctx.run(ctx.container.callbacks.add, ctx.principal, family.kind, url, pin)
    return Envelope(
        API,
        family.add_modulo,
        ADDED,
        Code.PARAMETER_ERROR,
        # secret: ramal extension, the Standard Webhooks key the deliveries are signed with.
        extras={"code": registered.code, "secret": registered.secret},
        success_codes=frozenset({Code.PARAMETER_ERROR}),
    )


async def _remove(ctx: Context, family: Family) -> Envelope:
    code = ctx.params.required("code", max_length=CODE_MAX_LENGTH)
    try:
        await ctx.run(ctx.container.callbacks.remove, ctx.principal, family.kind, code)
    except NotFound:
        raise WireError(Code.CODE_NOT_FOUND, f"Campo code {code} nao existe") from None
    except AlreadyRemoved as gone:
        raise WireError(Code.IDENTIFIER_NOT_FOUND, gone.detail) from None
    return Envelope(API, family.remove_modulo, "URL de Callback removida com sucesso.")


async def _list(ctx: Context, family: Family) -> Envelope:
    found = await ctx.run(ctx.container.callbacks.list_endpoints, ctx.principal, family.kind)
    items = [_item(endpoint, ctx) for endpoint in found]
    return Envelope(API, family.list_modulo, items, extras={"total": len(items)})


def _item(found: Endpoint, ctx: Context) -> dict[str, object]:
    zone = ctx.principal.timezone
    return {
        "code": found.code,
        "url": found.url,
        "pin": found.pin,
        "status": STATE_WORDS.get(found.state, found.state),
        "pausado": found.state != "active",
        "motivo": found.state_reason,
        "falhando_desde": None if found.failing_since is None else format_display(found.failing_since, zone),
        "data_cadastro": format_display(found.created_at, zone),
    }


_ADD_PARAMS = (
    ParamDoc("url", "http(s) URL that receives POST data=<JSON>; may embed user:pass", required=True),
    ParamDoc("pin", "Only events of this product/line (optional)"),
    FORMAT,
)
_REMOVE_PARAMS = (ParamDoc("code", "The 40-hex code add-callback returned", required=True), FORMAT)
_TAGS = ("callbacks",)


@endpoint(
    "/voz/add-callback",
    api=API,
    modulo=VOICE.add_modulo,
    summary="Register a call-status callback URL",
    params=_ADD_PARAMS,
    tags=_TAGS,
)
async def voice_add(ctx: Context) -> Envelope:
    return await _add(ctx, VOICE)


@endpoint(
    "/voz/remove-callback",
    api=API,
    modulo=VOICE.remove_modulo,
    summary="Remove a call-status callback",
    params=_REMOVE_PARAMS,
    tags=_TAGS,
)
async def voice_remove(ctx: Context) -> Envelope:
    return await _remove(ctx, VOICE)


@endpoint(
    "/voz/list-callback",
    api=API,
    modulo=VOICE.list_modulo,
    summary="List call-status callbacks",
    params=(FORMAT,),
    tags=_TAGS,
)
async def voice_list(ctx: Context) -> Envelope:
    return await _list(ctx, VOICE)


@endpoint(
    "/sms/add-callback-status",
    api=API,
    modulo=SMS.add_modulo,
    summary="Register an SMS-status callback URL",
    params=_ADD_PARAMS,
    tags=_TAGS,
)
async def sms_add(ctx: Context) -> Envelope:
    return await _add(ctx, SMS)


@endpoint(
    "/sms/remove-callback",
    api=API,
    modulo=SMS.remove_modulo,
    summary="Remove an SMS-status callback",
    params=_REMOVE_PARAMS,
    tags=_TAGS,
)
async def sms_remove(ctx: Context) -> Envelope:
    return await _remove(ctx, SMS)


@endpoint(
    "/sms/list-callback",
    api=API,
    modulo=SMS.list_modulo,
    summary="List SMS-status callbacks (GET or POST)",
    params=(FORMAT,),
    tags=_TAGS,
)
async def sms_list(ctx: Context) -> Envelope:
    return await _list(ctx, SMS)
