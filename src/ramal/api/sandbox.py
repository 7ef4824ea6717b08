"""``/sandbox/*``: ramal's own test hooks, apart from the Directcall surface (which has no such thing).

``/sandbox/inbound-call`` makes a simulated call arrive at one of the caller's numbers, so integrators
can exercise incoming-call flows (callbacks, statement filters) without a phone.
"""

from __future__ import annotations

from ramal.api.endpoint import Context, ParamDoc, endpoint
from ramal.services.calls import scope_of
from ramal.wire.envelope import Envelope


@endpoint(
    "/sandbox/inbound-call",
    api="sandbox",
    modulo="inbound-call",
    summary="ramal sandbox: simulate an incoming call to one of your numbers",
    params=(
        ParamDoc("destino", "One of your pin's numbers (admin: any number of the account)", True),
        ParamDoc("origem", "The calling number", True),
        ParamDoc("atendida", "s (default): answered and talks; n: rings 30 s and is missed"),
        ParamDoc("format", "JSON (default) or XML"),
    ),
    tags=("sandbox",),
)
async def inbound_call(ctx: Context) -> Envelope:
    params = ctx.params
    call = await ctx.run(
        ctx.container.calls.simulate_inbound,
        params.required("destino", max_length=40),
        params.required("origem", max_length=40),
        answered=params.yes_no("atendida", default=True),
        scope=scope_of(ctx.principal),
    )
    return Envelope("sandbox", "inbound-call", "Chamada recebida simulada", extras={"callerid": call.id})
