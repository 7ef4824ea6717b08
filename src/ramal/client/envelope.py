"""Turning an HTTP response into an envelope dict, and an error envelope into an exception.

Both renderings of docs/compat.md §1 are read back into the same plain dict, so models never know
which one travelled: XML's ``<item>`` lists become lists, ``<campo nome="...">`` becomes a key, leaves
stay strings (pydantic's lax mode turns ``"true"`` and ``"3"`` into ``bool`` and ``int``). Anything that
is not an envelope (a proxy's HTML error page, a truncated body) becomes :class:`UnexpectedResponse`
naming the status code and the first bytes, because "JSONDecodeError at line 1" helps nobody.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from xml.etree import ElementTree

import httpx
import orjson

from ramal.client.errors import UnexpectedResponse, api_error

SUCCESS = frozenset({"000"})
ADD_CALLBACK_SUCCESS = frozenset({"000", "001"})  # contract §7: add-callback succeeds with 001
_SNIPPET_CHARS = 200


def decode(response: httpx.Response) -> dict[str, Any]:
    """The envelope carried by ``response``, JSON or XML, whatever its HTTP status."""
    body = response.content
    kind = _body_kind(response.headers.get("content-type", ""), body)
    if kind == "html":
        raise _unexpected(response, "an HTML page (a proxy or web server error?), not a Directcall envelope")
    try:
        value: Any = _decode_xml(body) if kind == "xml" else orjson.loads(body)
    except (orjson.JSONDecodeError, ElementTree.ParseError) as error:
        raise _unexpected(response, f"malformed {kind.upper()} ({error})") from None
    if not isinstance(value, dict) or not isinstance(value.get("codigo"), str):
        raise _unexpected(response, "a document without a 'codigo' string: not a Directcall envelope")
    return value


def check(envelope: dict[str, Any], success: Collection[str] = SUCCESS) -> dict[str, Any]:
    """Return ``envelope`` if its ``codigo`` is a success for this endpoint, else raise its ApiError."""
    codigo = envelope["codigo"]
    if codigo in success:
        return envelope
    msg = envelope.get("msg")
    raise api_error(codigo, msg if isinstance(msg, str) else str(msg or ""), envelope)


def _body_kind(content_type: str, body: bytes) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    head = body.lstrip()[:64].lower()
    if media == "text/html" or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if media.endswith("xml") or head.startswith(b"<"):
        return "xml"
    return "json"


def _unexpected(response: httpx.Response, what: str) -> UnexpectedResponse:
    snippet = response.content[:_SNIPPET_CHARS].decode("utf-8", "replace")
    return UnexpectedResponse(
        f"{response.request.url.copy_with(query=None)} answered HTTP {response.status_code} with {what}: "
        f"{snippet!r}",
        status_code=response.status_code,
        snippet=snippet,
    )


def _decode_xml(body: bytes) -> Any:
    # The stdlib parser (expat >= 2.4) refuses entity-expansion bombs and never fetches external
    # entities, which is all the protection a response parser needs; defusedxml would add nothing here.
    return _element_value(ElementTree.fromstring(body))  # noqa: S314


def _element_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if all(child.tag == "item" for child in children):
        return [_element_value(child) for child in children]
    return {_element_key(child): _element_value(child) for child in children}


def _element_key(element: ElementTree.Element) -> str:
    if element.tag == "campo" and "nome" in element.attrib:
        return element.attrib["nome"]
    return element.tag
