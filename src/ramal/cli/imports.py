"""``ramal import``: bring an operator's existing call records into ramal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ramal.carrier.asterisk import BadLine
from ramal.cli.common import console, fail, operator_container
from ramal.services.imports import ImportReport, InvalidCdrFile

import_app = typer.Typer(help="Import call records from other systems.", no_args_is_help=True)


class _ProgressBar:
    """Draws the service's progress phases as Rich progress bars (on stderr)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, phase: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total)
        self.task = self.progress.add_task(phase, total=total)

    def advance(self, amount: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


@import_app.command("asterisk-csv")
def asterisk_csv(
    file: Annotated[Path, typer.Argument(help="Asterisk cdr_csv file (Master.csv)", dir_okay=False)],
    pin: Annotated[str, typer.Option("--pin", help="Pin the calls belong to")],
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="IANA zone the times were written in (default: the account's)"),
    ] = None,
    gmt: Annotated[bool, typer.Option("--gmt", help="Times are GMT (cdr.conf usegmtime=yes)")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good lines and report the bad ones")
    ] = False,
) -> None:
    """Import an Asterisk Master.csv; bad lines are reported by number and nothing is imported."""
    invalid: InvalidCdrFile | None = None
    with operator_container() as container:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        try:
            with progress:
                report = container.imports.import_asterisk_csv(
                    file,
                    pin,
                    timezone=timezone,
                    gmt=gmt,
                    skip_invalid=skip_invalid,
                    progress=_ProgressBar(progress),
                )
        except InvalidCdrFile as error:
            invalid = error
    if invalid is not None:  # reported outside the container, whose handler would swallow typer.Exit
        _print_bad_lines(invalid.bad_lines)
        fail(f"{invalid.detail} (use --skip-invalid para importar as linhas validas)")
    _print_report(file, report)


def _print_bad_lines(bad_lines: tuple[BadLine, ...]) -> None:
    for bad in bad_lines:
        console.print(f"[bold red]linha {bad.line}[/bold red]: {escape(bad.reason)}", highlight=False)


def _print_report(file: Path, report: ImportReport) -> None:
    _print_bad_lines(report.bad_lines)
    Console().print(
        f"[green]{escape(file.name)}[/green]: {report.records} registro(s) lido(s), "
        f"{report.imported} chamada(s) importada(s), {report.already_present} ja existente(s), "
        f"{len(report.bad_lines)} linha(s) invalida(s) ignorada(s)",
        highlight=False,
    )
