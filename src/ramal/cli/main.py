"""Entry point of the ``ramal`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from ramal.cli import (
    accounts,
    callbacks,
    client_commands,
    common,
    dev,
    imports,
    server,
    simulate,
    status,
    traffic,
)

app = typer.Typer(
    name="ramal",
    help="ramal: Directcall-compatible telephony API platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.migrate)
app.add_typer(accounts.account_app, name="account")
app.add_typer(accounts.pin_app, name="pin")
app.add_typer(accounts.credentials_app, name="credentials")
app.add_typer(dev.dev_app, name="dev")
app.command()(traffic.purge)
app.command()(status.status)
app.add_typer(simulate.simulate_app, name="simulate")
app.add_typer(imports.import_app, name="import")
app.add_typer(callbacks.callbacks_app, name="callbacks")
client_commands.register(app, callbacks.callbacks_app)


@app.callback()
def options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors")] = False,
) -> None:
    common.DEBUG["enabled"] = debug


def main() -> None:
    app()
