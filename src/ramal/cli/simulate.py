"""``ramal simulate ...``: make sandbox traffic happen, to test integrations end to end."""

from __future__ import annotations

import typer

from ramal.cli.simulate_sms import inbound_sms
from ramal.cli.traffic import inbound_call

simulate_app = typer.Typer(
    help="Make sandbox traffic happen (for testing integrations).", no_args_is_help=True
)
simulate_app.command("inbound-call")(inbound_call)
simulate_app.command("inbound-sms")(inbound_sms)
