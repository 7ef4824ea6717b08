"""``create_app``: the ASGI application, with its background loops in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ramal.api.routes import all_routes
from ramal.container import Container, build_container
from ramal.logs import configure_logging
from ramal.loops import run_loops
from ramal.settings import Settings
from ramal.store.migrations import upgrade
from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope, render_json

logger = logging.getLogger("ramal.app")


def create_app(container: Container, *, run_workers: bool | None = None) -> Starlette:
    """The ASGI app over ``container``; ``run_workers`` overrides ``settings.embedded_workers``."""
    workers = container.settings.embedded_workers if run_workers is None else run_workers

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(run_loops(container.loops(), stop)) if workers else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task

    return Starlette(
        routes=all_routes(container),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},  # type: ignore[dict-item]
    )


async def _http_error(request: Request, error: HTTPException) -> Response:
    """Unknown paths (404) and methods (405) still answer with an envelope, never an HTML page."""
    parts = [p for p in request.url.path.split("/") if p]
    api, modulo = ([*parts, "", ""])[:2]
    msg = f"Endpoint inexistente: {request.url.path}" if error.status_code == 404 else "Metodo nao suportado"
    envelope = Envelope(api[:32], modulo[:64], msg[:300], Code.PARAMETER_ERROR)
    return Response(
        render_json(envelope.to_dict()),
        status_code=error.status_code,
        headers={"content-type": "application/json; charset=utf-8"},
    )


def create_app_from_env() -> Starlette:
    """Factory used by ``ramal serve`` (uvicorn imports it in each worker process)."""
    settings = Settings()
    configure_logging(settings)
    container = build_container(settings)
    if settings.migrate_on_start:
        upgrade(container.database.engine)
    return create_app(container)
