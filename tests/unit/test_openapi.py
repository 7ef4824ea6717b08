"""The OpenAPI document covers exactly the Directcall routes the app serves."""

from __future__ import annotations

from starlette.routing import Route

from ramal.api.endpoint import REGISTRY
from ramal.api.openapi import openapi_document
from ramal.app import create_app
from ramal.container import Container


def test_every_served_endpoint_is_documented_and_nothing_else(container: Container) -> None:
    app = create_app(container, run_workers=False)
    served = {r.path for r in app.routes if isinstance(r, Route)}
    documented = set(openapi_document()["paths"])
    assert documented == {spec.path for spec in REGISTRY}
    assert documented <= served
    assert "/request_token" in documented


def test_operations_declare_required_parameters() -> None:
    document = openapi_document()
    form = document["paths"]["/request_token"]["post"]["requestBody"]["content"]
    schema = form["application/x-www-form-urlencoded"]["schema"]
    assert set(schema["required"]) == {"client_id", "client_secret"}
    token_info = document["paths"]["/ramal/token-info"]["get"]["parameters"]
    assert {"name": "access_token", "in": "query", "required": True}.items() <= token_info[0].items()
