"""``ramal callbacks ...``: operator commands for the delivery log, replay and endpoint secrets.

These act on the database directly, across every account. (The SDK adds client-side
``add``/``list``/``remove`` subcommands to the same group.) ``--json`` output is a contract.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ramal.cli.common import fail, operator_container, print_json
from ramal.delivery.log import LoggedDelivery, parse_since
from ramal.services.callbacks import SecretInfo
from ramal.store.repositories.deliveries import DeliveryFilter

callbacks_app = typer.Typer(help="Callback endpoints, delivery log and replay.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]
SinceOption = Annotated[str | None, typer.Option("--since", help="90s, 30m, 2h, 7d or an ISO-8601 time")]
EndpointOption = Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint code")]
CodeArgument = Annotated[str, typer.Argument(help="Endpoint code (40 hex)")]


def _filter(container: Any, since: str | None, **rest: Any) -> DeliveryFilter:
    try:
        instant = None if since is None else parse_since(since, container.clock.now())
    except ValueError as error:
        fail(f"--since {error}")
    return DeliveryFilter(since=instant, **rest)


@callbacks_app.command("deliveries")
def deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="Only failed or still-failing deliveries")] = False,
    since: SinceOption = None,
    endpoint: EndpointOption = None,
    event: Annotated[str | None, typer.Option("--event", help="Only this event id")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first)", min=1, max=1000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """The delivery log: each delivery with its attempts (time, HTTP status, latency, response, error)."""
    with operator_container() as container:
        where = _filter(container, since, failed_only=failed, endpoint_code=endpoint, event_id=event)
        found = container.delivery_log.find(where, limit)
    if as_json:
        print_json([_delivery_json(item) for item in found])
        return
    table = Table("event", "type", "seq", "endpoint", "state", "tries", "last", "last attempt")
    for item in found:
        d = item.delivery
        last = item.attempts[-1] if item.attempts else None
        detail = (
            ""
            if last is None
            else f"{last.attempted_at:%Y-%m-%d %H:%M:%S} {last.latency_ms} ms {last.error or ''}"
        )
        status = d.last_status_code if d.last_status_code is not None else (d.last_error or "")
        table.add_row(
            d.event_id,
            d.event_type,
            str(d.sequence),
            d.endpoint_code[:12],
            d.state,
            str(d.attempts),
            str(status),
            detail.strip(),
        )
    Console().print(table)


@callbacks_app.command("replay")
def replay(
    event_id: Annotated[str | None, typer.Argument(help="Event id (the webhook-id header)")] = None,
    since: SinceOption = None,
    endpoint: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send deliveries again, due now: one event, or everything since a time (optionally one endpoint)."""
    if event_id is None and since is None:
        fail("give an EVENT_ID or --since")
    with operator_container() as container:
        count = container.delivery_log.replay(
            _filter(container, since, endpoint_code=endpoint, event_id=event_id)
        )
    if as_json:
        print_json({"replayed": count})
    else:
        Console().print(f"{count} deliveries queued again")


@callbacks_app.command("endpoints")
def endpoints(as_json: JsonOption = False) -> None:
    """Every registered endpoint of every account, with its state (paused ones need `resume`)."""
    with operator_container() as container:
        found = container.callbacks.all_endpoints()
    rows = [
        {
            "code": e.code,
            "kind": e.kind,
            "url": e.url,
            "pin": e.pin,
            "state": e.state,
            "reason": e.state_reason,
            "failing_since": None if e.failing_since is None else e.failing_since.isoformat(),
        }
        for e in found
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("code", "kind", "url", "pin", "state", "reason")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("code", "kind", "url", "pin", "state", "reason")))
    Console().print(table)


@callbacks_app.command("resume")
def resume(code: CodeArgument) -> None:
    """Re-enable a paused or disabled endpoint; its pending backlog is sent at once."""
    with operator_container() as container:
        count = container.callbacks.resume(code)
    Console().print(f"endpoint {code} active; {count} pending deliveries due now")


@callbacks_app.command("secret")
def secret(code: CodeArgument, as_json: JsonOption = False) -> None:
    """Show the endpoint's signing secret (and the previous one while it still signs)."""
    with operator_container() as container:
        info = container.callbacks.secret(code)
    _show_secret(info, as_json)


@callbacks_app.command("rotate-secret")
def rotate_secret(code: CodeArgument, as_json: JsonOption = False) -> None:
    """Replace the signing secret; both sign (two signatures sent) during the overlap window."""
    with operator_container() as container:
        info = container.callbacks.rotate_secret(code)
    _show_secret(info, as_json)


def _show_secret(info: SecretInfo, as_json: bool) -> None:
    expires = None if info.previous_secret_expires_at is None else info.previous_secret_expires_at.isoformat()
    if as_json:
        print_json(
            {
                "code": info.code,
                "secret": info.secret,
                "previous_secret": info.previous_secret,
                "previous_secret_expires_at": expires,
            }
        )
        return
    Console().print(f"secret: {info.secret}")
    if info.previous_secret:
        Console().print(f"previous secret (still signing until {expires}): {info.previous_secret}")


def _delivery_json(item: LoggedDelivery) -> dict[str, Any]:
    d = item.delivery

    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "event_id": d.event_id,
        "event_type": d.event_type,
        "subject_id": d.subject_id,
        "sequence": d.sequence,
        "endpoint": d.endpoint_code,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at) if d.state == "pending" else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": iso(d.created_at),
        "delivered_at": iso(d.delivered_at),
        "history": [
            {
                "at": iso(a.attempted_at),
                "status": a.status_code,
                "latency_ms": a.latency_ms,
                "response": a.response_snippet,
                "error": a.error,
            }
            for a in item.attempts
        ],
    }
