"""The OpenAPI document, generated from the endpoint registry so it cannot drift from the routes,
and an interactive Swagger UI served from the ``swagger-ui-bundle`` package (no CDN needed)."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ramal import __version__
from ramal.api.endpoint import REGISTRY, EndpointSpec, ParamDoc

_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["api", "modulo", "status", "codigo", "msg"],
    "properties": {
        "api": {"type": "string"},
        "modulo": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "erro"]},
        "codigo": {
            "type": "string",
            "pattern": "^[0-9]{3}$",
            "description": "000 = success (001 on add-callback)",
        },
        "msg": {"description": "A sentence, or the endpoint's result list"},
    },
    "additionalProperties": True,
}

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ramal API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for spec in REGISTRY:
        paths[spec.path] = {"get": _operation(spec, "query"), "post": _operation(spec, "form")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ramal — Directcall-compatible telephony API",
            "version": __version__,
            "description": "Every endpoint answers with the Directcall envelope; see docs/compat.md.",
        },
        "paths": paths,
        "components": {"schemas": {"Envelope": _ENVELOPE_SCHEMA}},
    }


def _operation(spec: EndpointSpec, style: str) -> dict[str, Any]:
    fields = [*spec.params]
    if spec.auth:
        fields.insert(0, ParamDoc("access_token", "Token from /request_token", required=True))
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "tags": list(spec.tags),
        "operationId": f"{spec.handler.__name__}_{'post' if style == 'form' else 'get'}",
        "responses": {
            "200": {
                "description": f"Envelope with api={spec.api}, modulo={spec.modulo}",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}},
                    "text/xml": {"schema": {"type": "string"}},
                },
            }
        },
    }
    if style == "query":
        operation["parameters"] = [
            {
                "name": f.name,
                "in": "query",
                "required": f.required,
                "description": f.description,
                "schema": {"type": "string"},
            }
            for f in fields
            if f.kind != "file"
        ]
    else:
        operation["requestBody"] = {"content": _form_content(fields)}
    return operation


def _form_content(fields: list[ParamDoc]) -> dict[str, Any]:
    properties = {
        f.name: {
            "type": "string",
            "description": f.description,
            **({"format": "binary"} if f.kind == "file" else {}),
        }
        for f in fields
    }
    schema = {"type": "object", "properties": properties, "required": [f.name for f in fields if f.required]}
    media = (
        "multipart/form-data"
        if any(f.kind == "file" for f in fields)
        else "application/x-www-form-urlencoded"
    )
    return {media: {"schema": schema}}


def routes() -> list[BaseRoute]:
    async def openapi_json(_: Request) -> Response:
        return JSONResponse(openapi_document())

    async def docs(_: Request) -> Response:
        return HTMLResponse(_DOCS_PAGE)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount("/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger"),
    ]
