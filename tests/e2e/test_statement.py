"""The statement against a real `ramal serve`: seed with the CLI, authenticate as the busiest pin,
page through the statement over HTTP in JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from tests.e2e.conftest import Server


def test_seeded_statement_over_real_http(server: Server) -> None:
    seeded = server.ramal("dev", "seed", "--calls", "2000", "--accounts", "3", "--days", "10", "--json")
    url = server.url
    token = httpx.post(
        f"{url}/request_token",
        data={"client_id": seeded["client_id"], "client_secret": seeded["client_secret"]},
    ).json()["access_token"]
    span = {"access_token": token, "dataInicial": seeded["dataInicial"], "dataFinal": seeded["dataFinal"]}
    first = httpx.post(f"{url}/extrato/list", data=span).json()
    pin_calls = int(str(seeded["pin_calls"]))
    assert first["codigo"] == "000"
    assert first["paginas"] == -(-pin_calls // 50)
    last = httpx.post(f"{url}/extrato/list", data={**span, "pagina": str(first["paginas"])}).json()
    assert len(last["msg"]) == pin_calls - 50 * (first["paginas"] - 1)
    assert first["msg"][0]["inicio"] >= first["msg"][-1]["inicio"] >= last["msg"][0]["inicio"]
    xml = httpx.post(f"{url}/extrato/list", data={**span, "formato": "XML", "mostrarPlayer": "s"})
    root = ET.fromstring(xml.content)
    assert root.findtext("paginas") == str(first["paginas"])
    assert len(root.findall("msg/item")) == 50
