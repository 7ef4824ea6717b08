"""Request parameters as the wire carries them: form body, query string, ``campos[KEY]=VALUE``.

``read_params`` turns raw request parts into a :class:`Params`; its typed getters validate one value
each and raise a :class:`WireError` with code ``001`` and a message naming the parameter. Nothing here
knows what an endpoint means; handlers ask for what they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from ramal.wire import dates
from ramal.wire.errors import parameter_error

DEFAULT_MAX_LENGTH = 1024
CAMPOS_MAX_KEYS = 30
CAMPOS_MAX_KEY_LENGTH = 64
CAMPOS_MAX_VALUE_LENGTH = 1024
_CAMPOS_PREFIX = "campos["
_FORBIDDEN_KEY_CHARS = frozenset("[]")
_TRUE_FALSE = {"true": True, "false": False, "1": True, "0": False}
_YES_NO = {"s": True, "n": False, "sim": True, "nao": False}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Params:
    """Parsed parameters. Later sources (the body) override earlier ones (the query string)."""

    values: dict[str, str] = field(default_factory=dict)
    campos: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    conflicting: set[str] = field(default_factory=set)  # sent twice in one source with different values

    # --- scalar getters ------------------------------------------------------------------------

    def optional(self, name: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str | None:
        """The trimmed value, or ``None`` when absent or empty."""
        if name in self.conflicting:
            raise parameter_error(f"Parametro {name} informado mais de uma vez com valores diferentes")
        raw = self.values.get(name)
        if raw is None:
            return None
        value = raw.strip()
        if not value:
            return None
        if len(value) > max_length:
            raise parameter_error(f"Parametro {name} excede {max_length} caracteres")
        if "\x00" in value:
            raise parameter_error(f"Parametro {name} contem caracteres invalidos")
        return value

    def required(self, name: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> str:
        value = self.optional(name, max_length=max_length)
        if value is None:
            raise parameter_error(f"Parametro {name} nao informado")
        return value

    def first_of(self, *names: str, max_length: int = DEFAULT_MAX_LENGTH) -> str | None:
        """The first present of several aliases (``format`` / ``formato``)."""
        for name in names:
            value = self.optional(name, max_length=max_length)
            if value is not None:
                return value
        return None

    def yes_no(self, name: str, *, default: bool = False) -> bool:
        """``s``/``n`` flags (``gravar``, ``mostrarPlayer``...); case-insensitive."""
        return self._boolean(name, _YES_NO, "s ou n", default)

    def true_false(self, name: str, *, default: bool = False) -> bool:
        """``true``/``false`` flags (``getAllPins``)."""
        return self._boolean(name, _TRUE_FALSE, "true ou false", default)

    def _boolean(self, name: str, table: Mapping[str, bool], wording: str, default: bool) -> bool:
        value = self.optional(name, max_length=8)
        if value is None:
            return default
        try:
            return table[value.lower()]
        except KeyError:
            raise parameter_error(f"Parametro {name} invalido: use {wording}") from None

    def integer(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        value = self.optional(name, max_length=32)
        if value is None:
            return default
        digits = value.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):  # isdigit alone lets '²' through to int()
            raise parameter_error(f"Parametro {name} invalido: informe um numero inteiro")
        number = int(value)
        if not minimum <= number <= maximum:
            raise parameter_error(f"Parametro {name} invalido: use um valor entre {minimum} e {maximum}")
        return number

    def choice(self, name: str, options: Iterable[str], *, default: str | None = None) -> str | None:
        """A value from a closed set, matched case-insensitively, returned in its canonical case."""
        value = self.optional(name, max_length=64)
        if value is None:
            return default
        canonical = {option.lower(): option for option in options}
        try:
            return canonical[value.lower()]
        except KeyError:
            raise parameter_error(
                f"Parametro {name} invalido: use um destes valores: {', '.join(canonical.values())}"
            ) from None

    def ymdhis(self, name: str, zone: ZoneInfo) -> datetime:
        return dates.parse_ymdhis(name, self.required(name, max_length=32), zone)

    def file(self, name: str) -> UploadedFile | None:
        return self.files.get(name)

    # --- custom fields -------------------------------------------------------------------------

    def custom_fields(self, *, reserved: Iterable[str] = ()) -> dict[str, str]:
        """Validated ``campos`` without the ``reserved`` keys (e.g. the statement's ``search``)."""
        skip = set(reserved)
        for name in self.conflicting:
            key = campo_key(name)
            if key is not None and key not in skip:
                raise parameter_error(f"campos[{key}] informado mais de uma vez com valores diferentes")
        fields = {key: value for key, value in self.campos.items() if key not in skip}
        if len(fields) > CAMPOS_MAX_KEYS:
            raise parameter_error(f"campos: no maximo {CAMPOS_MAX_KEYS} campos por requisicao")
        for key, value in fields.items():
            _check_campo(key, value)
        return fields


def _check_campo(key: str, value: str) -> None:
    if not key or len(key) > CAMPOS_MAX_KEY_LENGTH:
        raise parameter_error(f"campos: a chave deve ter de 1 a {CAMPOS_MAX_KEY_LENGTH} caracteres")
    if _FORBIDDEN_KEY_CHARS & set(key) or not key.isprintable():
        raise parameter_error("campos: a chave contem caracteres invalidos (colchetes ou controle)")
    if len(value) > CAMPOS_MAX_VALUE_LENGTH:
        raise parameter_error(f"campos[{key}]: o valor excede {CAMPOS_MAX_VALUE_LENGTH} caracteres")
    if "\x00" in value:
        raise parameter_error(f"campos[{key}]: o valor contem caracteres invalidos")


def campo_key(name: str) -> str | None:
    """``campos[CPF]`` -> ``CPF``; ``campos['search']`` -> ``search``; anything else -> ``None``."""
    if not (name.startswith(_CAMPOS_PREFIX) and name.endswith("]")):
        return None
    key = name[len(_CAMPOS_PREFIX) : -1]
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1]
    return key


def decode_urlencoded(raw: bytes) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` strictly as UTF-8 (literal spaces and ``:`` are accepted as-is)."""
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise parameter_error("Requisicao com bytes que nao sao UTF-8 valido") from None


def build_params(
    sources: Iterable[Iterable[tuple[str, str]]], files: Mapping[str, UploadedFile] | None = None
) -> Params:
    """Merge parameter sources in order (query first, then body); later sources win."""
    params = Params(files=dict(files or {}))
    for source in sources:
        seen: dict[str, str] = {}
        for name, value in source:
            if name in seen and seen[name] != value:
                params.conflicting.add(name)
            seen[name] = value
        for name, value in seen.items():
            key = campo_key(name)
            if key is None:
                params.values[name] = value
            else:
                params.campos[key] = value
    return params
