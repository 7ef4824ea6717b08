from __future__ import annotations

import xml.etree.ElementTree as ET

import orjson

from ramal.wire.codes import Code
from ramal.wire.envelope import Envelope, OutputFormat, render, render_json, render_xml


def test_json_is_one_member_per_line_with_escaped_slashes() -> None:
    body = Envelope("extrato", "extrato", [{"gravacao_link": "http://h/extrato/gravacao/id/ab"}]).to_dict()
    text = render_json(body).decode()
    lines = text.splitlines()
    assert lines[0] == "{"
    assert '  "api": "extrato",' in lines
    assert '  "codigo": "000",' in lines
    assert "http:\\/\\/h\\/extrato\\/gravacao\\/id\\/ab" in text
    assert orjson.loads(text)["msg"][0]["gravacao_link"] == "http://h/extrato/gravacao/id/ab"


def test_envelope_key_order_status_and_code_string() -> None:
    body = Envelope("voz", "chamar", "x", Code.CALL_NOT_ACTIVE, {"callerid": "c"}).to_dict()
    assert list(body) == ["api", "modulo", "status", "codigo", "msg", "callerid"]
    assert body["status"] == "erro"
    assert body["codigo"] == "003"


def test_add_callback_style_success_with_code_001() -> None:
    body = Envelope(
        "sms", "add-callback", "ok", Code.PARAMETER_ERROR, success_codes=frozenset({Code.PARAMETER_ERROR})
    ).to_dict()
    assert body["status"] == "ok"
    assert body["codigo"] == "001"


def test_msg_never_contains_double_quotes() -> None:
    body = Envelope("voz", "chamar", 'valor "x" invalido').to_dict()
    assert body["msg"] == "valor 'x' invalido"


def test_xml_is_well_formed_utf8_with_repeated_items_and_hostile_text() -> None:
    body = Envelope(
        "sms",
        "enviar",
        "<script>&'\"</script> João \x01",
        extras={"destino": ["5541", "5542"], "campos": {"nome completo": "Zé", "CPF": "1"}},
    ).to_dict()
    raw = render_xml(body)
    root = ET.fromstring(raw)
    assert root.tag == "resposta"
    assert root.findtext("codigo") == "000"
    assert root.findtext("msg") == "<script>&''</script> João "
    assert [item.text for item in root.find("destino")] == ["5541", "5542"]  # type: ignore[union-attr]
    campos = root.find("campos")
    assert campos is not None
    assert campos.findtext("CPF") == "1"
    assert campos.find("campo").attrib["nome"] == "nome completo"  # type: ignore[union-attr]


def test_xml_drops_only_the_forbidden_control_characters() -> None:
    kept = "tab\there, line\nbreak, cr\r, nbsp\u00a0, line sep\u2028, João"
    raw = render_xml({"msg": kept + "\x00\x0b\x1f", "campos": {"k": "\x08" + kept}})
    assert raw.decode().count(kept) == 2  # written as it is, whitespace and non-ASCII included
    assert ET.fromstring(raw).findtext("msg") == kept.replace("\r", "\n")  # XML parsers normalize CR


def test_render_picks_content_type() -> None:
    assert render({"a": 1}, OutputFormat.XML)[1] == "text/xml; charset=utf-8"
    assert render({"a": 1}, OutputFormat.JSON)[1] == "application/json; charset=utf-8"
