"""Reading ramal's own renderings back: the SDK's decoder against the server's renderer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ramal.client.envelope import decode
from ramal.wire.envelope import OutputFormat, render

ENVELOPE: dict[str, Any] = {
    "api": "extrato",
    "modulo": "extrato",
    "status": "ok",
    "codigo": "000",
    "msg": [
        {
            "origem": "554130600300",
            "gravacao_link": "http://127.0.0.1:8080/extrato/gravacao/id/" + "a" * 40,
            "campos": {"CPF": "1 & <2>", "nome completo": 'João "da" Silva', "xml-ish": "x"},
        },
        {"origem": "554130600301", "gravacao_link": None, "campos": {}},
    ],
    "paginas": 2,
    "admin": True,
    "destino": ["5541999990000"],
}


def response(fmt: OutputFormat, body: dict[str, Any]) -> httpx.Response:
    content, content_type = render(body, fmt)
    return httpx.Response(
        200,
        content=content,
        headers={"content-type": content_type},
        request=httpx.Request("POST", "http://x/y"),
    )


def test_json_round_trips_exactly() -> None:
    assert decode(response(OutputFormat.JSON, ENVELOPE)) == ENVELOPE


def test_xml_reads_back_as_the_same_shape_with_string_leaves() -> None:
    decoded = decode(response(OutputFormat.XML, ENVELOPE))
    first, second = decoded["msg"]
    assert first["campos"] == {"CPF": "1 & <2>", "nome completo": 'João "da" Silva', "xml-ish": "x"}
    assert first["gravacao_link"] == ENVELOPE["msg"][0]["gravacao_link"]
    assert second == {"origem": "554130600301", "gravacao_link": "", "campos": ""}
    assert (decoded["paginas"], decoded["admin"], decoded["destino"]) == ("2", "true", ["5541999990000"])
    assert decoded["codigo"] == "000"


@pytest.mark.parametrize("fmt", [OutputFormat.JSON, OutputFormat.XML])
def test_an_empty_list_is_empty_in_both(fmt: OutputFormat) -> None:
    decoded = decode(response(fmt, {**ENVELOPE, "msg": []}))
    assert decoded["msg"] in ([], "")
