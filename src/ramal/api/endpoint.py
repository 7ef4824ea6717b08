"""The machinery every Directcall endpoint shares, so each handler is only its own logic.

``@endpoint(...)`` declares a handler with its wire identity (path, ``api``, ``modulo``), whether it
needs an access token, and its documented parameters (which also feed the OpenAPI document). The
wrapper reads and limits the body, picks JSON or XML, authenticates, runs the handler, maps every
failure to an envelope with the right ``codigo``, renders, and records metrics. HTTP status is always
200 here: deployed clients discard the body of a 4xx/5xx (contract §11).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ramal.api import metrics
from ramal.api.body import read_params
from ramal.container import Container
from ramal.services.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from ramal.services.principal import Principal
from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope, OutputFormat, render
from ramal.wire.errors import WireError
from ramal.wire.params import Params

logger = logging.getLogger("ramal.api")

ACCEPTED_METHODS = ("GET", "POST")
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParamDoc:
    name: str
    description: str
    required: bool = False
    kind: str = "string"  # "string" | "file" (OpenAPI only)


@dataclass(slots=True)
class Context:
    """Everything a handler may use; handlers never touch the Starlette request directly."""

    request: Request
    container: Container
    params: Params
    output: OutputFormat
    principal_or_none: Principal | None = None

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:  # only reachable by declaring auth=False and asking anyway
            raise AuthenticationFailed()
        return self.principal_or_none

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking service code (database work) off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)


Handler = Callable[[Context], Awaitable[Envelope]]


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    api: str
    modulo: str
    summary: str
    handler: Handler
    auth: bool = True
    params: tuple[ParamDoc, ...] = ()
    format_params: tuple[str, ...] = ("format", "formato")
    methods: tuple[str, ...] = ACCEPTED_METHODS
    tags: tuple[str, ...] = field(default_factory=tuple)


REGISTRY: list[EndpointSpec] = []

_SERVICE_ERROR_CODES: dict[type[ServiceError], Code] = {
    InvalidInput: Code.PARAMETER_ERROR,
    AuthenticationFailed: Code.AUTHENTICATION_FAILED,
    Forbidden: Code.AUTHENTICATION_FAILED,
    NotFound: Code.IDENTIFIER_NOT_FOUND,
    Conflict: Code.PARAMETER_ERROR,
}


def service_error_code(error: ServiceError) -> Code:
    """The wire code of a service error; handlers may override per endpoint (e.g. 003, 009)."""
    for kind in type(error).__mro__:
        if kind in _SERVICE_ERROR_CODES:
            return _SERVICE_ERROR_CODES[kind]
    return Code.PARAMETER_ERROR


def endpoint(
    path: str,
    *,
    api: str,
    modulo: str,
    summary: str,
    auth: bool = True,
    params: tuple[ParamDoc, ...] = (),
    format_params: tuple[str, ...] = ("format", "formato"),
    tags: tuple[str, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register a Directcall endpoint; see the module docstring for what the wrapper does."""

    def register(handler: Handler) -> Handler:
        REGISTRY.append(
            EndpointSpec(
                path, api, modulo, summary, handler, auth, params, format_params, tags=tags or (api,)
            )
        )
        return handler

    return register


def routes(container: Container) -> list[Route]:
    return [Route(spec.path, _wrap(spec, container), methods=_ALL_METHODS) for spec in REGISTRY]


def _wrap(spec: EndpointSpec, container: Container) -> Callable[[Request], Awaitable[Response]]:
    settings = container.settings

    async def serve(request: Request) -> Response:
        started = time.perf_counter()
        output = OutputFormat.JSON
        try:
            if request.method not in spec.methods:
                raise WireError(
                    Code.PARAMETER_ERROR, f"Metodo {request.method} nao suportado: use GET ou POST"
                )
            params = await read_params(
                request, max_form_bytes=settings.max_form_bytes, max_upload_bytes=settings.max_upload_bytes
            )
            output = _output_format(params, spec.format_params)
            context = Context(request, container, params, output)
            if spec.auth:
                context.principal_or_none = await authenticate(container, params)
            envelope = await spec.handler(context)
        except Exception as error:  # every failure becomes an envelope: never a 500 or a traceback
            envelope = error_envelope(spec, error)
        body, content_type = render(envelope.to_dict(), output)
        status = 405 if request.method not in spec.methods else 200
        elapsed = time.perf_counter() - started
        metrics.observe(spec.path, envelope.code.value, elapsed)
        if settings.access_log:
            _log_request(request.method, spec.path, envelope.code.value, elapsed)
        return Response(body, status_code=status, headers={"content-type": content_type})

    serve.__name__ = spec.handler.__name__
    return serve


def _log_request(method: str, path: str, codigo: str, seconds: float) -> None:
    # The path only: query strings and bodies may carry access_token and secrets.
    fields = {"method": method, "path": path, "codigo": codigo, "ms": round(seconds * 1000, 2)}
    logger.info("%s %s codigo=%s %.1fms", method, path, codigo, seconds * 1000, extra={"fields": fields})


def _output_format(params: Params, names: tuple[str, ...]) -> OutputFormat:
    value = params.first_of(*names, max_length=16)
    if value is None:
        return OutputFormat.JSON
    try:
        return OutputFormat(value.upper())
    except ValueError:
        raise WireError(Code.PARAMETER_ERROR, f"Parametro {names[0]} invalido: use JSON ou XML") from None


async def authenticate(container: Container, params: Params) -> Principal:
    token = params.optional("access_token", max_length=512)
    if token is None:
        raise AuthenticationFailed("Falha na autenticacao: access_token nao informado")
    cached = container.tokens.cached(token)
    if cached is not None:
        return cached
    return await asyncio.to_thread(container.tokens.authenticate, token)


def error_envelope(spec: EndpointSpec, error: Exception) -> Envelope:
    if isinstance(error, WireError):
        return Envelope(spec.api, spec.modulo, error.msg, error.code, dict(error.extras))
    if isinstance(error, ServiceError):
        code = service_error_code(error)
        extras: dict[str, Any] = {}
        if code is Code.AUTHENTICATION_FAILED:
            # One deployed client reads an OAuth-style error_description (contract §11).
            extras = {"error": "invalid_token", "error_description": error.detail}
        return Envelope(spec.api, spec.modulo, error.detail, code, extras)
    logger.exception("unexpected error in %s", spec.path)
    return Envelope(spec.api, spec.modulo, "Erro interno, tente novamente", Code.CONNECTION_FAILURE)
