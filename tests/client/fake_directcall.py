"""A small in-test fake of the Directcall token endpoints, for failure injection.

Every endpoint is tested against a real ``ramal serve`` (tests/e2e/test_sdk_real_server.py); this
fake exists for what a real server will not do on demand: refuse a token it just issued, answer
slowly, send a proxy's HTML page or a malformed body, return each error code. ``script`` is a queue
of canned responses (or handlers) served before normal handling. It renders with ramal's own
envelope renderer (``ramal.wire.envelope``), so JSON and XML bytes are what the real server writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ramal.wire.envelope import JSON_CONTENT_TYPE, OutputFormat, render

Scripted = httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeDirectcall:
    client_id: str = "pin12345678.abcd@ramal.local"
    client_secret: str = "s3cret"
    token_lifetime: int = 3600
    script: list[Scripted] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    refuse_every_token: bool = False
    token_delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    def params_of(self, request: httpx.Request) -> dict[str, str]:
        pairs = parse_qsl(request.url.query.decode())
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            pairs += parse_qsl(request.content.decode())
        return dict(pairs)

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None:
            return scripted(request) if callable(scripted) else scripted
        params = self.params_of(request)
        output = (
            OutputFormat.XML if params.get("format", params.get("formato", "")).upper() == "XML" else None
        )
        handler = self.routes().get(request.url.path)
        if handler is None:
            return self.reply(
                {"api": "", "modulo": "", "codigo": "001", "msg": "Endpoint inexistente"}, output
            )
        if request.url.path != "/request_token" and not self.token_ok(params.get("access_token")):
            return self.reply(
                {
                    "api": "voz",
                    "modulo": "x",
                    "codigo": "006",
                    "msg": "Falha na autenticacao",
                    "error": "invalid_token",
                },
                output,
            )
        return self.reply(handler(params), output)

    def reply(self, body: dict[str, Any], output: OutputFormat | None) -> httpx.Response:
        codigo = body["codigo"]
        ordered = {
            "api": body.pop("api"),
            "modulo": body.pop("modulo"),
            "status": "ok" if codigo == "000" or body.pop("_success", False) else "erro",
            "codigo": body.pop("codigo"),
            "msg": body.pop("msg"),
            **body,
        }
        content, content_type = render(ordered, output or OutputFormat.JSON)
        return httpx.Response(200, content=content, headers={"content-type": content_type})

    def token_ok(self, token: str | None) -> bool:
        return token in self.issued and token not in self.revoked and not self.refuse_every_token

    def routes(self) -> dict[str, Callable[[dict[str, str]], dict[str, Any]]]:
        return {
            "/request_token": self.request_token,
            "/ramal/token-info": lambda p: _ok(
                "ramal", "token-info", pin="12345678", conta=7, admin=True, fuso_horario="America/Sao_Paulo"
            ),
        }

    # --- endpoints -----------------------------------------------------------------------------

    def request_token(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return {
                "api": "oauth",
                "modulo": "request_token",
                "codigo": "006",
                "msg": "Falha na autenticacao: credenciais ou token invalidos",
                "access_token": False,
            }
        if self.token_delay:
            threading.Event().wait(self.token_delay)
        with self._lock:
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
        return _ok(
            "oauth", "request_token", access_token=token, token_type="Bearer", expires_in=self.token_lifetime
        )


def _ok(api: str, modulo: str, msg: Any = "OK", **extras: Any) -> dict[str, Any]:
    return {"api": api, "modulo": modulo, "codigo": "000", "msg": msg, **extras}


def envelope_response(codigo: str, msg: str = "erro", **extras: Any) -> httpx.Response:
    """A canned error (or success) envelope for ``FakeDirectcall.script``."""
    body = {"api": "voz", "modulo": "x", "status": "erro", "codigo": codigo, "msg": msg, **extras}
    content, content_type = render(body, OutputFormat.JSON)
    return httpx.Response(200, content=content, headers={"content-type": content_type})


def raw_response(status: int, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})
