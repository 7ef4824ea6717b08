"""``ramal simulate inbound-sms``: an SMS arriving at one of ramal's numbers, for sandbox testing."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ramal.cli.common import operator_container, print_json


def inbound_sms(
    to: Annotated[str, typer.Option("--to", help="The ramal number receiving the SMS")],
    sender: Annotated[str, typer.Option("--from", help="The sender's number")],
    text: Annotated[str, typer.Option("--text", help="The message text")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Store a received SMS (it shows in /sms/recebimento and raises a message.received event)."""
    with operator_container() as container:
        row = container.messages.receive(to, sender, text)
    if as_json:
        print_json(
            {
                "callerid": row.callerid,
                "pin": row.pin,
                "from": row.origin,
                "to": row.destination,
                "text": row.text,
                "received_at": row.started_at.isoformat(),
            }
        )
        return
    Console().print(f"SMS from {row.origin} received on {row.destination} (pin {row.pin}): {row.callerid}")
