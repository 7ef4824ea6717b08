"""Sandbox and housekeeping commands: ``ramal simulate inbound-call`` and ``ramal purge``."""

from __future__ import annotations

from typing import Annotated

import typer

from ramal.cli.common import console, operator_container, print_json


def inbound_call(
    to: Annotated[str, typer.Option("--to", help="One of an account's numbers (digits with country code)")],
    from_: Annotated[str, typer.Option("--from", help="The calling number")],
    answered: Annotated[
        bool, typer.Option("--answered/--missed", help="Answered and talks, or rings 30 s and is missed")
    ] = True,
) -> None:
    """A call arrives at --to; a running `ramal serve`/`ramal worker` plays out its timeline."""
    with operator_container() as container:
        call = container.calls.simulate_inbound(to, from_, answered=answered)
    print_json(
        {
            "callerid": call.id,
            "pin": call.pin,
            "origin": call.origin,
            "destination": call.destination,
            "status": call.status,
            "outcome": call.outcome,
        }
    )


def purge(
    batch: Annotated[int, typer.Option(help="Rows per transaction")] = 500,
) -> None:
    """Apply retention now: delete recordings past RAMAL_RECORDING_RETENTION_DAYS, callback events
    past RAMAL_EVENT_RETENTION_DAYS that nothing is owed for and, if RAMAL_CALL_RETENTION_DAYS is set,
    older call records (the worker also does all of it periodically)."""
    totals = [0, 0, 0]
    with operator_container() as container:
        purger = container.retention_purge(batch)
        while True:
            done = purger.purge_batch()
            totals = [total + part for total, part in zip(totals, done, strict=True)]
            if max(done) < batch:
                break
    recordings, calls, events = totals
    console.print(
        f"purged {recordings} expired recording(s), {calls} call record(s) and {events} callback event(s)"
    )
