"""Phone numbers as ramal stores them: digits only, country code first (``554130600300``)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from ramal.services.errors import InvalidInput

MIN_DIGITS = 8
MAX_DIGITS = 15  # E.164


@lru_cache(maxsize=65_536)  # parsing is ~45 us, most of /voz/call's own CPU; numbers repeat a lot
def normalize_number(text: str, *, field: str = "numero") -> str:
    """Validate a full international number written as digits; raise :class:`InvalidInput` if not.

    ``phonenumbers`` checks the country code and length plausibility, so ``5541999990001`` passes and
    ``12345`` or ``999999999999`` (no such country) do not.
    """
    digits = text.strip().lstrip("+")
    if not digits.isdigit() or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidInput(f"Parametro {field} invalido: use DDI+DDD+numero, somente digitos")
    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"Parametro {field} invalido: use DDI+DDD+numero, somente digitos") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidInput(f"Parametro {field} invalido: numero inexistente para o pais informado")
    return digits


IP_PREFIX = "ip"
_IP_EXAMPLE = "ip4130600300"


@lru_cache(maxsize=65_536)
def normalize_call_party(text: str, *, field: str) -> str:
    """A party of ``/voz/call``: a full number, or ``ip`` + DDD + number, which addresses a line inside
    Directcall's SIP network (contract §1). The ``ip`` form is Brazilian: a two-digit area code without
    zeros, then an 8- or 9-digit number."""
    value = text.strip()
    if value[:2].lower() != IP_PREFIX:
        return normalize_number(value, field=field)
    local = value[2:]
    if not local.isdigit() or len(local) not in (10, 11) or "0" in local[:2]:
        raise InvalidInput(f"Parametro {field} invalido: use ip+DDD+numero, ex. {_IP_EXAMPLE}")
    if not phonenumbers.is_possible_number(phonenumbers.parse("+55" + local, None)):
        raise InvalidInput(f"Parametro {field} invalido: use ip+DDD+numero, ex. {_IP_EXAMPLE}")
    return IP_PREFIX + local
