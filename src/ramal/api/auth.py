"""``/request_token``: client credentials in, access token out (contract §3)."""

from __future__ import annotations

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.errors import AuthenticationFailed
from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope
from ramal.wire.errors import WireError


@endpoint(
    "/request_token",
    api="oauth",
    modulo="request_token",
    summary="Exchange client_id and client_secret for an access token",
    auth=False,
    params=(
        ParamDoc("client_id", "Account login (an e-mail address)", required=True),
        ParamDoc("client_secret", "Account secret", required=True),
        ParamDoc("format", "JSON (default) or XML"),
    ),
    tags=("auth",),
)
async def request_token(ctx: Context) -> Envelope:
    client_id = ctx.params.optional("client_id", max_length=200)
    client_secret = ctx.params.optional("client_secret", max_length=200)
    if client_id is None or client_secret is None:
        missing = "client_id" if client_id is None else "client_secret"
        raise WireError(Code.PARAMETER_ERROR, f"Parametro {missing} nao informado", access_token=False)
    try:
        issued = await ctx.run(ctx.container.tokens.issue, client_id, client_secret)
    except AuthenticationFailed as failure:
        # The same answer whichever part was wrong. Both failure shapes clients look for (§3):
        # access_token false with msg, and OAuth's error/error_description.
        raise WireError(
            Code.AUTHENTICATION_FAILED,
            failure.detail,
            access_token=False,
            error="invalid_client",
            error_description=failure.detail,
        ) from None
    return Envelope(
        "oauth",
        "request_token",
        "Token gerado com sucesso",
        extras={
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.lifetime_seconds,
        },
    )


@endpoint(
    "/ramal/token-info",
    api="ramal",
    modulo="token-info",
    summary="ramal extension: who the access token belongs to (pin, account, admin, time zone)",
    params=(ParamDoc("format", "JSON (default) or XML"),),
    tags=("auth",),
)
async def token_info(ctx: Context) -> Envelope:
    principal = ctx.principal
    return Envelope(
        "ramal",
        "token-info",
        "Token valido",
        extras={
            "pin": principal.pin,
            "conta": principal.account_id,
            "admin": principal.is_admin,
            "fuso_horario": principal.timezone.key,
        },
    )
