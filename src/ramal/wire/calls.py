"""Call vocabulary of the wire: the Portuguese status words and the display form of numbers.

The contract shows one status word (``atendida``) and mentions answered / busy / hung up; the rest
are ours, chosen to read naturally to Directcall users, and listed in docs/compat.md §3.
"""

from __future__ import annotations

import phonenumbers

STATUS_WORDS: dict[str, str] = {
    "queued": "aguardando",
    "ringing": "chamando",
    "answered": "atendida",
    "completed": "finalizada",
    "busy": "ocupado",
    "no_answer": "nao atendida",
    "failed": "falhou",
    "canceled": "cancelada",
}


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def display_number(number: str) -> str:
    """``554130175726`` -> `` 55 41  3017 5726`` (the contract's space-padded ``telefone``).

    Country code, area code, two spaces, then the subscriber number split before its last four digits.
    Area codes are Brazilian (two digits); other countries show no area code. ``ip`` numbers keep
    their prefix in place of the country code.
    """
    if number.startswith("ip"):
        country, national = "ip", number[2:]
    else:
        try:
            parsed = phonenumbers.parse("+" + number, None)
        except phonenumbers.NumberParseException:
            return number
        country, national = str(parsed.country_code), number[len(str(parsed.country_code)) :]
    area, subscriber = (national[:2], national[2:]) if country in ("55", "ip") else ("", national)
    head = f" {country} {area}" if area else f" {country}"
    return f"{head}  {subscriber[:-4]} {subscriber[-4:]}"
