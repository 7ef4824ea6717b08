"""Operator commands for accounts, pins and credentials. Their ``--json`` output is a contract."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ramal.cli.common import operator_container, print_json
from ramal.services.accounts import IssuedCredentials

account_app = typer.Typer(help="Create and list accounts.", no_args_is_help=True)
pin_app = typer.Typer(help="Add pins (lines/products) to an account.", no_args_is_help=True)
credentials_app = typer.Typer(help="Manage client credentials.", no_args_is_help=True)

NumberOption = Annotated[
    list[str] | None, typer.Option("--number", help="Phone number of the pin, digits with country code")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object")]


def _credentials_json(issued: IssuedCredentials) -> dict[str, Any]:
    return {
        "account": issued.account_id,
        "account_name": issued.account_name,
        "pin": issued.pin,
        "numbers": list(issued.numbers),
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        "admin": issued.is_admin,
    }


def _show(issued: IssuedCredentials, as_json: bool) -> None:
    if as_json:
        print_json(_credentials_json(issued))
        return
    table = Table(title=f"Credentials for pin {issued.pin}", show_header=False)
    for key, value in _credentials_json(issued).items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    Console().print(table)
    Console().print("[yellow]The client_secret is shown only now; store it safely.[/yellow]")


@account_app.command("create")
def create_account(
    name: Annotated[str, typer.Argument(help="Account (company) name")],
    admin: Annotated[bool, typer.Option("--admin", help="Credentials may act on every pin")] = False,
    number: NumberOption = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone for statement times")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an account with its first pin and credentials."""
    with operator_container() as container:
        issued = container.accounts.create_account(name, admin=admin, numbers=number or [], timezone=timezone)
    _show(issued, as_json)


@account_app.command("list")
def list_accounts(as_json: JsonOption = False) -> None:
    """Every account with its pins and numbers."""
    with operator_container() as container:
        summaries = container.accounts.list_accounts()
    if as_json:
        print_json(
            [
                {
                    "account": s.id,
                    "name": s.name,
                    "timezone": s.timezone,
                    "pins": list(s.pins),
                    "numbers": list(s.numbers),
                    "created_at": s.created_at.isoformat(),
                }
                for s in summaries
            ]
        )
        return
    table = Table("id", "name", "timezone", "pins", "numbers", "created")
    for s in summaries:
        table.add_row(
            str(s.id),
            s.name,
            s.timezone,
            " ".join(s.pins),
            " ".join(s.numbers),
            s.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)


@pin_app.command("add")
def add_pin(
    account: Annotated[str, typer.Argument(help="Account id or exact name")],
    number: NumberOption = None,
    admin: Annotated[bool, typer.Option("--admin", help="Credentials may act on every pin")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a pin with its own credentials to an account."""
    with operator_container() as container:
        issued = container.accounts.add_pin(account, numbers=number or [], admin=admin)
    _show(issued, as_json)


@credentials_app.command("rotate")
def rotate(
    pin: Annotated[str, typer.Argument(help="The pin whose credentials to replace")],
    as_json: JsonOption = False,
) -> None:
    """Revoke the pin's credentials (and every token issued for them) and issue new ones."""
    with operator_container() as container:
        issued = container.accounts.rotate_credentials(pin)
    _show(issued, as_json)


@account_app.command("unanswered-statement")
def unanswered_statement(
    account: Annotated[int, typer.Argument(help="Account id")],
    enable: Annotated[bool, typer.Option("--enable/--disable", help="Switch the feature on or off")] = True,
) -> None:
    """Enable the optional statement of received, unanswered calls (tipoFiltro=recebidas_nao_atendidas)."""
    with operator_container() as container:
        container.statement.set_unanswered_statement(account, enable)
    Console().print(f"account {account}: unanswered-call statement {'enabled' if enable else 'disabled'}")
