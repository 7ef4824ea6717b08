"""What every CLI command shares: settings, a migrated container, and error reporting."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from ramal.container import Container, build_container
from ramal.services.errors import ServiceError
from ramal.settings import Settings
from ramal.store.migrations import upgrade

console = Console(stderr=True)
DEBUG = {"enabled": False}


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The ``RAMAL_*`` settings, or one line per bad variable naming it (never a traceback)."""
    try:
        return Settings()
    except ValidationError as error:
        fail(
            "; ".join(
                f"RAMAL_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
                for problem in error.errors()
            )
        )


@contextmanager
def operator_container() -> Iterator[Container]:
    """A container on the configured database, migrated to head, closed afterwards."""
    container = build_container(load_settings())
    try:
        upgrade(container.database.engine)
        yield container
    except ServiceError as error:
        fail(error.detail)
    except Exception as error:
        if DEBUG["enabled"]:
            raise
        fail(f"{type(error).__name__}: {error} (run with --debug for the traceback)")
    finally:
        container.close()


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
