"""``/sandbox/inbound-sms``: ramal's own sandbox endpoint to simulate an SMS arriving at one of the
caller's numbers, so integrators can test ``/sms/recebimento`` and the received-SMS event end to end.
Not part of the Directcall surface; same envelope and token rules so the same client code can call it.
"""

from __future__ import annotations

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.messages import MAX_RECEIVED_TEXT_LENGTH
from ramal.wire import dates
from ramal.wire.envelope import Envelope


@endpoint(
    "/sandbox/inbound-sms",
    api="sandbox",
    modulo="inbound-sms",
    summary="ramal sandbox: simulate an SMS received on one of the account's numbers",
    params=(
        ParamDoc("destino", "One of the account's numbers (receives the SMS)", required=True),
        ParamDoc("origem", "The sender's number", required=True),
        ParamDoc("texto", f"Text, up to {MAX_RECEIVED_TEXT_LENGTH} characters", required=True),
        ParamDoc("format", "JSON (default) or XML"),
    ),
    tags=("sandbox",),
)
async def inbound_sms(ctx: Context) -> Envelope:
    params = ctx.params
    row = await ctx.run(
        ctx.container.messages.receive,
        params.required("destino", max_length=32),
        params.required("origem", max_length=32),
        params.required("texto", max_length=MAX_RECEIVED_TEXT_LENGTH),
        ctx.principal,
    )
    return Envelope(
        "sandbox",
        "inbound-sms",
        "SMS recebido (simulado)",
        extras={
            "callerid": row.callerid,
            "origem": row.origin,
            "destino": row.destination,
            "data": dates.format_display(row.started_at, ctx.principal.timezone),
        },
    )
