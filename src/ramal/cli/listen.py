"""``ramal listen``: a local webhook receiver that prints every callback as it arrives.

The integrator's companion while developing: register ``http://127.0.0.1:9000/`` with
``ramal callbacks add`` and watch each event (type, call, numbers, status, campos, whether it is the
call's final one) and whether its Standard Webhooks signature verifies with ``--secret``. It answers
200 to every readable event, 401 when a signature does not verify, 400 when the body is not a
callback, so the sender's retry behaviour can be watched too.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import orjson
import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ramal.client import CallbackEvent, CallEvent, InvalidSignature, WebhookError, parse_callback
from ramal.client.models import DEFAULT_TIMEZONE
from ramal.client.webhooks import verify_signature


def receiver_app(secret: str | None, as_json: bool, timezone: str = DEFAULT_TIMEZONE) -> Starlette:
    """The ASGI app behind ``ramal listen`` (any path, POST only)."""
    out = Console(file=sys.stdout, highlight=False, soft_wrap=True)

    async def receive(request: Request) -> PlainTextResponse:
        body = await request.body()
        signature = "not checked (no --secret)"
        if secret is not None:
            try:
                verify_signature(request.headers, body, secret)
                signature = "ok"
            except InvalidSignature as error:
                _report_rejection(out, as_json, request, f"signature rejected: {error}")
                return PlainTextResponse("invalid signature", status_code=401)
        try:
            event = parse_callback(body, timezone=timezone)
        except WebhookError as error:
            _report_rejection(out, as_json, request, f"unreadable callback: {error}")
            return PlainTextResponse("not a callback", status_code=400)
        if as_json:
            line = {
                "signature": signature,
                "webhook_id": request.headers.get("webhook-id"),
                "event": event.model_dump(mode="json", by_alias=True),
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            sys.stdout.flush()
        else:
            _print_event(out, event, signature, request.headers.get("webhook-id"))
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


def _report_rejection(out: Console, as_json: bool, request: Request, reason: str) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps({"rejected": reason, "path": request.url.path}).decode() + "\n")
        sys.stdout.flush()
    else:
        out.print(f"[red]✗ {escape(reason)}[/red] ({escape(request.url.path)})")


def _print_event(out: Console, event: CallbackEvent, signature: str, webhook_id: str | None) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    final = " [bold magenta]final[/bold magenta]" if event.final else ""
    numbers = f"{event.origin or '?'} → {event.destination or '?'}"
    out.print(
        f"[dim]{stamp}[/dim] [bold cyan]{escape(event.event)}[/bold cyan]{final} "
        f"{escape(numbers)} status=[green]{escape(event.status or '-')}[/green] "
        f"callerid={escape(event.call_id or '-')}"
    )
    details: list[str] = []
    if isinstance(event, CallEvent):
        if event.duration is not None:
            details.append(f"duração {event.duration}")
        if event.recording_url:
            details.append(f"gravação {event.recording_url}")
    if event.fields:
        details.append("campos " + ", ".join(f"{key}={value}" for key, value in event.fields.items()))
    for detail in details:
        out.print(f"         {escape(detail)}")
    mark = "[green]✓[/green]" if signature == "ok" else "[yellow]?[/yellow]"
    origin = f" ({escape(webhook_id)})" if webhook_id else ""
    out.print(f"         signature {escape(signature)} {mark}{origin}")


def listen(
    port: Annotated[int, typer.Option("--port", help="Port to listen on")] = 9000,
    host: Annotated[str, typer.Option("--host", help="Address to bind")] = "127.0.0.1",
    secret: Annotated[
        str | None, typer.Option("--secret", envvar="RAMAL_WEBHOOK_SECRET", help="whsec_... to verify with")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per callback")] = False,
) -> None:
    """Receive callbacks locally and print them (register the URL with `ramal callbacks add`)."""
    Console(stderr=True).print(
        f"listening on http://{host}:{port}/ — register it with: ramal callbacks add http://{host}:{port}/",
        highlight=False,
    )
    uvicorn.run(receiver_app(secret, as_json), host=host, port=port, log_level="warning", access_log=False)
