"""``ramal serve``, ``ramal worker`` and ``ramal migrate``: running the service."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Annotated, Any

import typer
import uvicorn

from ramal.cli.common import console, load_settings, operator_container
from ramal.container import build_container
from ramal.logs import configure_logging
from ramal.loops import run_loops
from ramal.store.migrations import current_revision, upgrade

# uvicorn options of `ramal serve` beyond address and workers; bench/bare_sql_app.py serves its floor
# with the same ones, so the two differ only in the application.
UVICORN_OPTIONS: dict[str, Any] = {
    "access_log": False,  # it would log query strings, which may carry access_token
    "log_config": None,
    "server_header": False,
}


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [RAMAL_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [RAMAL_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="HTTP worker processes [RAMAL_HTTP_WORKERS]")] = None,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Do not run background loops here")
    ] = False,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not migrate on start")] = False,
) -> None:
    """Run the API (and, unless --no-workers, the background loops) on the configured database."""
    overrides = {"RAMAL_HOST": host, "RAMAL_PORT": port, "RAMAL_HTTP_WORKERS": workers}
    for key, value in overrides.items():
        if value is not None:
            os.environ[key] = str(value)
    if no_workers:
        os.environ["RAMAL_EMBEDDED_WORKERS"] = "false"
    settings = load_settings()
    configure_logging(settings)
    if settings.migrate_on_start and not no_migrate:
        with operator_container():  # migrates once here, not in every worker process
            pass
    os.environ["RAMAL_MIGRATE_ON_START"] = "false"
    console.print(
        f"ramal listening on http://{settings.host}:{settings.port} ({settings.database_url.split('://')[0]})"
    )
    uvicorn.run(
        "ramal.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.http_workers,
        **UVICORN_OPTIONS,
    )


def worker() -> None:
    """Run the background loops only (scale them apart from the API)."""
    settings = load_settings()
    configure_logging(settings)
    container = build_container(settings)
    upgrade(container.database.engine)
    loops = container.loops(own_process=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_loops(loops, stop)

    console.print(f"ramal worker running {len(loops)} loops")
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(main())
    finally:
        container.close()


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (``uvicorn[standard]`` brings it), as ``ramal serve`` runs on it:
    the embedded and the standalone dispatcher then run on the same loop. Else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def migrate() -> None:
    """Bring the database schema up to date."""
    with operator_container() as container:
        upgrade(container.database.engine)
        console.print(f"database at revision {current_revision(container.database.engine)}")
