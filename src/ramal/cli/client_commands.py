"""The ``ramal`` command as an API client: token, call, sms, extrato, callbacks, listen.

These commands speak HTTP to a server (ramal or the real service) through :mod:`ramal.client`; they
never open the database. The server and credentials come from ``RAMAL_URL``, ``RAMAL_CLIENT_ID`` and
``RAMAL_CLIENT_SECRET``, or from a profile of ``~/.config/ramal/config.toml`` (``--profile``)::

    [default]
    url = "http://127.0.0.1:8080"
    client_id = "pin12345678.0a1b2c3d@ramal.local"
    client_secret = "..."

Without ``--profile`` the environment wins over the ``default`` profile; with ``--profile NAME`` the
named profile wins and the environment only fills what it leaves out. Errors are one line on stderr
and exit code 1 (``ramal --debug ...`` shows the traceback).
"""

from __future__ import annotations

import csv
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ramal.cli import listen
from ramal.cli.common import DEBUG, console, fail, print_json
from ramal.client import Client, ConfigurationError, RamalError, StatementPage, StatementRow
from ramal.client.models import WIRE_DATETIME
from ramal.client.operations import CallbackKind, StatementFilters

# --- where the server and credentials come from ---------------------------------------------------


@dataclass(frozen=True)
class Profile:
    url: str | None
    client_id: str | None
    client_secret: str | None


def config_path() -> Path:
    """``RAMAL_CONFIG``, else ``$XDG_CONFIG_HOME/ramal/config.toml``, else ``~/.config/ramal/...``."""
    explicit = os.environ.get("RAMAL_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ramal" / "config.toml"


def load_profile(name: str | None) -> Profile:
    path = config_path()
    section: dict[str, Any] = {}
    if path.exists():
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            fail(f"{path} is not valid TOML: {error}")
        found = document.get(name or "default")
        section = found if isinstance(found, dict) else {}
    if name is not None and not section:
        fail(f"profile {name!r} not found in {path}")
    env = Profile(
        os.environ.get("RAMAL_URL"), os.environ.get("RAMAL_CLIENT_ID"), os.environ.get("RAMAL_CLIENT_SECRET")
    )
    stored = Profile(section.get("url"), section.get("client_id"), section.get("client_secret"))
    first, second = (stored, env) if name is not None else (env, stored)
    return Profile(
        first.url or second.url,
        first.client_id or second.client_id,
        first.client_secret or second.client_secret,
    )


ProfileOption = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="Section of ~/.config/ramal/config.toml (RAMAL_CONFIG) to use"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
CampoOption = Annotated[list[str] | None, typer.Option("--campo", help="Custom field KEY=VALUE (repeatable)")]


@contextmanager
def api_client(profile: str | None) -> Iterator[Client]:
    """A client for the configured server; any SDK error becomes a one-line message and exit 1."""
    try:
        settings = load_profile(profile)
        with Client(settings.url, settings.client_id, settings.client_secret) as client:
            yield client
    except RamalError as error:
        if DEBUG["enabled"]:
            raise
        hint = f" (or in {config_path()}, see --profile)" if isinstance(error, ConfigurationError) else ""
        fail(f"{type(error).__name__}: {error}{hint}")


def parse_campos(values: list[str] | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: use KEY=VALUE", param_hint="--campo")
        fields[key] = value
    return fields


def _model_json(model: Any) -> Any:
    return model.model_dump(mode="json")


# --- ramal token -----------------------------------------------------------------------------------


def token(profile: ProfileOption = None, as_json: JsonOption = False) -> None:
    """Print an access token for the configured credentials (e.g. ``TOKEN=$(ramal token)``)."""
    with api_client(profile) as client:
        issued = client.token()
    if as_json:
        print_json({"access_token": issued.access_token, "expires_in": issued.expires_in})
    else:
        sys.stdout.write(issued.access_token + "\n")


# --- ramal call ------------------------------------------------------------------------------------

CallerIdOption = Annotated[str | None, typer.Option("--callerid", help="This call, not the latest one")]
call_app = typer.Typer(help="Place and control calls through the API.", no_args_is_help=True)


@call_app.command("place")
def place_call(
    origin: Annotated[str, typer.Argument(help="Number rung first (digits, e.g. 554130600300)")],
    destination: Annotated[str, typer.Argument(help="Number it is connected to")],
    record: Annotated[bool, typer.Option("--record", help="Record the call (gravar=s)")] = False,
    reverse: Annotated[bool, typer.Option("--reverse", help="Dial the destination first")] = False,
    campo: CampoOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Click-to-call: ring ORIGIN, then connect it to DESTINATION; prints the callerid."""
    fields = parse_campos(campo)
    with api_client(profile) as client:
        call = client.place_call(origin, destination, record=record, reverse_dial=reverse, fields=fields)
    if as_json:
        print_json({"callerid": call.call_id, "msg": call.message})
    else:
        sys.stdout.write(call.call_id + "\n")
        console.print(call.message, highlight=False)


@call_app.command("status")
def call_status(
    origin: Annotated[str, typer.Argument()],
    destination: Annotated[str, typer.Argument()],
    callerid: CallerIdOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """The legs of the call in progress between ORIGIN and DESTINATION."""
    with api_client(profile) as client:
        legs = client.call_status(origin, destination, call_id=callerid)
    if as_json:
        print_json([_model_json(leg) for leg in legs])
        return
    table = Table("phone", "status", "started", "duration", "callerid")
    for leg in legs:
        table.add_row(
            leg.phone_digits, leg.status, _when(leg.started_at), _duration(leg.duration), leg.call_id or ""
        )
    Console().print(table)


@call_app.command("end")
def end_call(
    origin: Annotated[str, typer.Argument()],
    destination: Annotated[str, typer.Argument()],
    callerid: CallerIdOption = None,
    profile: ProfileOption = None,
) -> None:
    """Hang up the call in progress between ORIGIN and DESTINATION; prints its callerid and status."""
    with api_client(profile) as client:
        ended = client.end_call(origin, destination, call_id=callerid)
    sys.stdout.write(f"{ended.call_id or ''} {ended.status or ''}".strip() + "\n")
    console.print(ended.message, highlight=False)


# --- ramal sms -------------------------------------------------------------------------------------

sms_app = typer.Typer(help="Send SMS and voice messages through the API.", no_args_is_help=True)


@sms_app.command("send")
def send_sms(
    origin: Annotated[str, typer.Argument(help="Sender number")],
    destinations: Annotated[list[str], typer.Argument(help="One or more recipient numbers")],
    text: Annotated[str, typer.Option("--text", "-t", help="Message text (up to 700 characters)")],
    voice: Annotated[bool, typer.Option("--voice", help="A voice message: the text is read aloud")] = False,
    campo: CampoOption = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send an SMS (or with --voice a voice message); prints the callerid."""
    fields = parse_campos(campo)
    with api_client(profile) as client:
        if voice:
            result = client.send_voice_message(origin, destinations, text=text, fields=fields)
        else:
            result = client.send_sms(origin, destinations, text, fields=fields)
    if as_json:
        print_json({"callerid": result.message_id, "destino": result.destinations, "msg": result.message})
    else:
        sys.stdout.write(result.message_id + "\n")
        console.print(result.message, highlight=False)


@sms_app.command("status")
def sms_status(
    callerid: Annotated[str, typer.Argument(help="The callerid returned by send")],
    profile: ProfileOption = None,
) -> None:
    """What the service says about a sent message."""
    with api_client(profile) as client:
        status = client.message_status(callerid)
    sys.stdout.write(status.message + "\n")


# --- ramal extrato ---------------------------------------------------------------------------------

WIRE_COLUMNS = {name: info.alias or name for name, info in StatementRow.model_fields.items()}


def _day_or_time(text: str, option: str) -> date | datetime:
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.date() if fmt == "%Y-%m-%d" else parsed
    raise typer.BadParameter(f"{text!r}: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'", param_hint=option)


def _when(value: datetime | None) -> str:
    return value.strftime(WIRE_DATETIME) if value else ""


def _duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    total = int(value.total_seconds())
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def wire_row(row: StatementRow) -> dict[str, Any]:
    """A row back in the API's own keys and formats (what ``--json`` and ``--csv`` export).

    Only the keys the server sent, in the row layout's order; values as the wire writes them (every
    value a string, ``""`` for a time not reached), so an export equals the API's rows.
    """
    out: dict[str, Any] = {}
    for name, key in WIRE_COLUMNS.items():
        if name in row.model_fields_set:
            out[key] = _wire_value(getattr(row, name))
    out.update(row.model_extra or {})
    return out


def _wire_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def extrato(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or time")],
    end: Annotated[str, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD) or time")],
    origem: Annotated[str | None, typer.Option("--origem", help="Only calls from this number")] = None,
    destino: Annotated[str | None, typer.Option("--destino", help="Only calls to this number")] = None,
    callerid: Annotated[str | None, typer.Option("--callerid", help="One call by its id")] = None,
    campo: CampoOption = None,
    with_campos: Annotated[
        bool, typer.Option("--with-campos", help="Each row carries its custom fields")
    ] = False,
    recordings: Annotated[bool, typer.Option("--recordings", help="Recorded calls only")] = False,
    all_pins: Annotated[bool, typer.Option("--all-pins", help="Every pin of the account (admin)")] = False,
    page: Annotated[int, typer.Option("--page", min=1, help="Page shown in the table")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Every page as one JSON array on stdout")] = False,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write every page to this CSV file ('-' for stdout)")
    ] = None,
    profile: ProfileOption = None,
) -> None:
    """The call statement (/extrato/list): a table of one page, or every page as JSON or CSV."""
    if as_json and csv_file is not None:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="--json")
    fields = parse_campos(campo)
    first, last = _day_or_time(start, "--from"), _day_or_time(end, "--to")
    filters: StatementFilters = {
        "origin": origem,
        "destination": destino,
        "call_id": callerid,
        "fields": fields,
        "include_fields": with_campos or bool(fields),
        "all_pins": all_pins,
        "recordings_only": recordings,
    }
    with api_client(profile) as client:
        if as_json or csv_file is not None:
            _export(client, first, last, filters, csv_file)
        else:
            _table(client.statement(first, last, page=page, **filters))


def _table(page: StatementPage) -> None:
    table = Table("início", "origem", "destino", "status", "duração", "gravação", "campos")
    table.add_column("callerid", no_wrap=True)
    for row in page.rows:
        table.add_row(
            _when(row.started_at),
            row.origin,
            row.destination,
            row.status or "",
            _duration(row.duration),
            "✓" if row.recording_url else "",
            " ".join(f"{key}={value}" for key, value in row.fields.items()),
            row.call_id or "",
        )
    Console().print(table)
    console.print(
        f"page {page.page} of {page.pages}; --json or --csv FILE exports every page", highlight=False
    )


def _export(
    client: Client,
    first: date | datetime,
    last: date | datetime,
    filters: StatementFilters,
    csv_file: Path | None,
) -> None:
    """Stream every page out as it arrives: memory stays flat however long the statement is."""
    target = None if csv_file is None or str(csv_file) == "-" else csv_file
    out: IO[str] = sys.stdout if target is None else target.open("w", newline="", encoding="utf-8")
    progress = Progress(
        TextColumn("pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    writer = _JsonArrayWriter(out) if csv_file is None else _CsvWriter(out)
    try:
        with progress:
            task = progress.add_task("extrato", total=None)
            for page in client.iter_statement_pages(first, last, **filters):
                progress.update(task, total=max(page.pages, 1), completed=page.page)
                for row in page.rows:
                    writer.write(wire_row(row))
        writer.close()
    finally:
        if target is not None:
            out.close()
    if target is not None:
        console.print(f"{writer.count} rows written to {target}", highlight=False)


class _JsonArrayWriter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        out.write("[")

    def write(self, row: dict[str, Any]) -> None:
        self.out.write(("," if self.count else "") + "\n  " + orjson.dumps(row).decode())
        self.count += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.count else "]\n")


class _CsvWriter:
    """Columns are the row layout's keys plus extras seen in the first row; campos as JSON text."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        self.writer: csv.DictWriter[str] | None = None

    def write(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            self.writer = csv.DictWriter(self.out, fieldnames=list(row), extrasaction="ignore")
            self.writer.writeheader()
        self.writer.writerow({key: _csv_cell(value) for key, value in row.items()})
        self.count += 1

    def close(self) -> None:
        if self.writer is None:  # no rows: still a header, so the file says what it would hold
            csv.DictWriter(self.out, fieldnames=list(WIRE_COLUMNS.values())).writeheader()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- ramal callbacks add|list|remove ---------------------------------------------------------------

SmsOption = Annotated[bool, typer.Option("--sms", help="SMS status callbacks instead of call events")]


def _kind(sms: bool) -> CallbackKind:
    return "sms" if sms else "call"


def add_callback(
    url: Annotated[str, typer.Argument(help="Where events are POSTed (http or https)")],
    sms: SmsOption = False,
    pin: Annotated[str | None, typer.Option("--pin", help="Only this pin's events")] = None,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a callback URL through the API; prints its code (and signing secret)."""
    with api_client(profile) as client:
        endpoint = client.add_callback(url, kind=_kind(sms), pin=pin)
    if as_json:
        print_json(_model_json(endpoint))
        return
    sys.stdout.write(endpoint.code + "\n")
    if endpoint.secret:
        console.print(f"signing secret: {endpoint.secret} (ramal listen --secret ...)", highlight=False)


def list_callbacks(
    sms: SmsOption = False, profile: ProfileOption = None, as_json: JsonOption = False
) -> None:
    """The callback URLs registered through the API."""
    with api_client(profile) as client:
        endpoints = client.list_callbacks(kind=_kind(sms))
    if as_json:
        print_json([_model_json(endpoint) for endpoint in endpoints])
        return
    table = Table("code", "url", "pin", "state", "failing since")
    for endpoint in endpoints:
        table.add_row(
            endpoint.code,
            endpoint.url or "",
            endpoint.pin or "",
            endpoint.state or "",
            _when(endpoint.failing_since),
        )
    Console().print(table)


def remove_callback(
    code: Annotated[str, typer.Argument(help="The code returned by add")],
    sms: SmsOption = False,
    profile: ProfileOption = None,
) -> None:
    """Remove a callback URL through the API."""
    with api_client(profile) as client:
        message = client.remove_callback(code, kind=_kind(sms))
    console.print(message, highlight=False)


def register_client_commands(group: typer.Typer) -> None:
    """Add ``add``, ``list`` and ``remove`` (API client commands) to the ``callbacks`` group."""
    group.command("add")(add_callback)
    group.command("list")(list_callbacks)
    group.command("remove")(remove_callback)


def register(app: typer.Typer, callbacks_group: typer.Typer | None = None) -> None:
    """Every client command on the top-level ``ramal`` app.

    ``callbacks_group`` is the operator's ``ramal callbacks`` group (already added to ``app``) that
    receives ``add``/``list``/``remove``; without it a ``callbacks`` group of their own is added.
    """
    if callbacks_group is None:
        callbacks_group = typer.Typer(help="Callback URLs, through the API.", no_args_is_help=True)
        app.add_typer(callbacks_group, name="callbacks")
    register_client_commands(callbacks_group)
    app.command("token")(token)
    app.add_typer(call_app, name="call")
    app.add_typer(sms_app, name="sms")
    app.command("extrato")(extrato)
    app.command("listen")(listen.listen)
