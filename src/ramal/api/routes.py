"""Every route of the service. Importing an endpoint module registers its handlers."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ramal.api import (
    auth,
    callbacks,
    deliveries,
    endpoint,
    extrato,
    openapi,
    ops,
    recordings,
    sandbox,
    sandbox_sms,
    sms,
    voz,
)
from ramal.container import Container

ENDPOINT_MODULES = (
    auth,
    voz,
    sandbox,
    extrato,
    sms,
    sandbox_sms,
    callbacks,
    deliveries,
)  # each module's @endpoint handlers land in endpoint.REGISTRY on import


def all_routes(container: Container) -> list[BaseRoute]:
    return [
        *ops.routes(container),
        *openapi.routes(),
        *recordings.routes(container),
        *endpoint.routes(container),
    ]
