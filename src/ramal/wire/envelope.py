"""The response envelope and its two renderings, JSON and XML.

JSON imitates the PHP service byte for byte where deployed clients depend on it (contract §11):
pretty-printed with one member per line and ``"key":`` written without a space before the colon (shell
clients pull values out with ``sed``), ``/`` escaped as ``\\/`` as PHP's ``json_encode`` does, and no
``"`` inside ``msg``. XML is our own layout (the real one is unknown), described in docs/compat.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import quoteattr

import orjson

from ramal.wire.codes import Code

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


class OutputFormat(StrEnum):
    JSON = "JSON"
    XML = "XML"


@dataclass(slots=True)
class Envelope:
    """One response: ``api``, ``modulo``, ``status``, ``codigo``, ``msg``, then ``extras`` in order."""

    api: str
    modulo: str
    msg: Any = "OK"
    code: Code = Code.OK
    extras: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # None: "ok" when the code is a success, "erro" otherwise
    success_codes: frozenset[Code] = frozenset({Code.OK})

    def to_dict(self) -> dict[str, Any]:
        status = self.status or ("ok" if self.code in self.success_codes else "erro")
        body: dict[str, Any] = {
            "api": self.api,
            "modulo": self.modulo,
            "status": status,
            "codigo": self.code.value,
            "msg": _safe_msg(self.msg),
        }
        body.update(self.extras)
        return body


def _safe_msg(msg: Any) -> Any:
    # Shell clients extract msg as "the last quoted string on the line": a " inside breaks them.
    return msg.replace('"', "'") if isinstance(msg, str) else msg


def render(body: Mapping[str, Any], output: OutputFormat) -> tuple[bytes, str]:
    """Serialize an envelope dict; returns ``(bytes, content_type)``."""
    if output is OutputFormat.XML:
        return render_xml(body), XML_CONTENT_TYPE
    return render_json(body), JSON_CONTENT_TYPE


def render_json(body: Mapping[str, Any]) -> bytes:
    # orjson is ~10x faster than json (limits.md §4). Every "/" in orjson output is inside a string,
    # so escaping it afterwards cannot touch the JSON structure.
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).replace(b"/", b"\\/") + b"\n"


def render_xml(body: Mapping[str, Any], root: str = "resposta") -> bytes:
    # String building with escaping is 4x faster than an lxml tree for a 50-row page (limits.md §4).
    parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}>"]
    for key, value in body.items():
        _xml_member(parts, key, value)
    parts.append(f"</{root}>\n")
    return "".join(parts).encode("utf-8")


def _xml_member(parts: list[str], key: str, value: Any) -> None:
    open_tag, close_tag = _xml_tags(key)
    # Strings first, in one piece: they are nearly every member (each cell of a statement row), and
    # the ABC check (Mapping) in _xml_container costs far more than this one.
    if isinstance(value, str):
        parts.append(f"{open_tag}{_xml_text(value)}{close_tag}")
        return
    parts.append(open_tag)
    _xml_container(parts, value)
    parts.append(close_tag)


def _xml_container(parts: list[str], value: Any) -> None:
    """The content of a member that is not a string."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_member(parts, str(key), item)
    elif isinstance(value, list | tuple):
        for item in value:
            _xml_member(parts, "item", item)
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif value is not None:
        parts.append(_xml_text(str(value)))


# XML 1.0 forbids most control characters even escaped; drop them rather than emit broken XML.
_XML_FORBIDDEN = dict.fromkeys(code for code in range(32) if chr(code) not in "\t\n\r")


def _xml_text(text: str) -> str:
    # str.translate looks every character up in the table (~0.35 µs for a statement cell, half of a
    # 50-row page's rendering); a control character makes the text non-printable, so printable
    # text, nearly all of it, skips the translation.
    if not text.isprintable():
        text = text.translate(_XML_FORBIDDEN)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # saxutils.escape


@lru_cache(maxsize=4096)  # the same few keys repeat on every row
def _xml_tags(key: str) -> tuple[str, str]:
    if _is_xml_name(key):
        return f"<{key}>", f"</{key}>"
    return f"<campo nome={quoteattr(key)}>", "</campo>"  # keys chosen by customers (campos)


def _is_xml_name(key: str) -> bool:
    if not key or not (key[0].isalpha() or key[0] == "_") or key.lower().startswith("xml"):
        return False
    return all(ch.isalnum() or ch in "_-." for ch in key) and key.isascii()
