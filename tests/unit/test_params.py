from __future__ import annotations

import pytest

from ramal.wire.codes import Code
from ramal.wire.errors import WireError
from ramal.wire.params import CAMPOS_MAX_KEYS, build_params, campo_key, decode_urlencoded


def parse(body: bytes, query: bytes = b"") -> object:
    return build_params([decode_urlencoded(query), decode_urlencoded(body)])


def test_campos_are_split_from_ordinary_values_and_keep_utf8() -> None:
    params = build_params(
        [decode_urlencoded(b"origem=5541&campos[nome]=Jo%C3%A3o+da+Silva&campos[CPF]=000.000.000-00")]
    )
    assert params.values == {"origem": "5541"}
    assert params.custom_fields() == {"nome": "João da Silva", "CPF": "000.000.000-00"}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("campos[CPF]", "CPF"),
        ("campos['search']", "search"),
        ('campos["x"]', "x"),
        ("campos", None),
        ("camposX]", None),
    ],
)
def test_campo_key(name: str, key: str | None) -> None:
    assert campo_key(name) == key


def test_unencoded_spaces_and_colons_are_accepted() -> None:
    params = build_params([decode_urlencoded(b"texto=ola mundo: tudo bem&x=1")])
    assert params.required("texto") == "ola mundo: tudo bem"


def test_body_overrides_query_string() -> None:
    params = build_params([decode_urlencoded(b"format=xml&a=1"), decode_urlencoded(b"format=json")])
    assert params.optional("format") == "json"
    assert params.optional("a") == "1"


def test_same_parameter_twice_with_different_values_is_an_error_only_when_read() -> None:
    params = build_params([decode_urlencoded(b"client_id=a&client_id=b&x=1&x=1")])
    assert params.optional("x") == "1"
    with pytest.raises(WireError, match="mais de uma vez") as caught:
        params.optional("client_id")
    assert caught.value.code is Code.PARAMETER_ERROR


def test_non_utf8_bytes_are_rejected() -> None:
    with pytest.raises(WireError, match="UTF-8"):
        decode_urlencoded(b"texto=%FF%FE")
    with pytest.raises(WireError, match="UTF-8"):
        decode_urlencoded(b"texto=\xff")


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_values_count_as_missing(value: str) -> None:
    params = build_params([[("origem", value)]])
    assert params.optional("origem") is None
    with pytest.raises(WireError, match="origem nao informado"):
        params.required("origem")


def test_oversized_and_nul_values_are_rejected() -> None:
    params = build_params([[("a", "x" * 2000), ("b", "ok\x00")]])
    with pytest.raises(WireError, match="excede"):
        params.optional("a")
    with pytest.raises(WireError, match="invalidos"):
        params.optional("b")


@pytest.mark.parametrize(("raw", "expected"), [("s", True), ("N", False), ("sim", True)])
def test_yes_no(raw: str, expected: bool) -> None:
    assert build_params([[("gravar", raw)]]).yes_no("gravar") is expected


def test_yes_no_rejects_other_words() -> None:
    with pytest.raises(WireError, match="use s ou n"):
        build_params([[("gravar", "talvez")]]).yes_no("gravar")


@pytest.mark.parametrize("raw", ["abc", "1.5", "99999999999999999999999999", "-1"])
def test_integer_rejects_bad_values(raw: str) -> None:
    with pytest.raises(WireError):
        build_params([[("pagina", raw)]]).integer("pagina", default=1, minimum=1, maximum=10**9)


def test_integer_accepts_values_in_range() -> None:
    assert build_params([[("pagina", "7")]]).integer("pagina", default=1, minimum=1, maximum=10) == 7
    assert build_params([[]]).integer("pagina", default=1, minimum=1, maximum=10) == 1


def test_choice_is_case_insensitive_and_canonical() -> None:
    params = build_params([[("tipo", "VOZ")]])
    assert params.choice("tipo", ["texto", "voz"]) == "voz"
    with pytest.raises(WireError, match="texto, voz"):
        build_params([[("tipo", "fax")]]).choice("tipo", ["texto", "voz"])


def test_campos_limits() -> None:
    too_many = build_params([[(f"campos[k{i}]", "v") for i in range(CAMPOS_MAX_KEYS + 1)]])
    with pytest.raises(WireError, match="no maximo"):
        too_many.custom_fields()
    with pytest.raises(WireError, match="chave"):
        build_params([[("campos[" + "k" * 65 + "]", "v")]]).custom_fields()
    with pytest.raises(WireError, match="excede"):
        build_params([[("campos[k]", "v" * 1025)]]).custom_fields()
    with pytest.raises(WireError, match="colchetes"):
        build_params([[("campos[a[b]]", "v")]]).custom_fields()


def test_reserved_campos_are_left_out() -> None:
    params = build_params([[("campos['search']", "1"), ("campos[CPF]", "1")]])
    assert params.custom_fields(reserved=["search"]) == {"CPF": "1"}
    assert "search" in params.campos


def test_a_campo_sent_twice_with_different_values_is_an_error() -> None:
    params = build_params([[("campos[CPF]", "1"), ("campos[CPF]", "2")]])
    with pytest.raises(WireError, match=r"campos\[CPF\] informado mais de uma vez"):
        params.custom_fields()
