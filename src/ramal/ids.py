"""Identifier generation, injectable like the clock.

Call ids are UUIDv7: still a UUID, as the contract's ``callerid`` example is, but time-ordered, which
keeps inserts into the primary-key index about 3x faster than random UUIDs (``limits.md`` §2).
Other public ids (callback ``code``, recording ids) are 40 lowercase hex characters as in the contract.
"""

from __future__ import annotations

import secrets
from typing import Protocol

import uuid_utils


class IdGenerator(Protocol):
    def call_id(self) -> str: ...

    def hex40(self) -> str: ...

    def numeric(self, digits: int) -> str: ...


class RandomIds:
    """Production ids: UUIDv7 for calls and events, ``secrets`` for everything a client may guess."""

    def call_id(self) -> str:
        return str(uuid_utils.uuid7())

    def hex40(self) -> str:
        return secrets.token_hex(20)

    def numeric(self, digits: int) -> str:
        first = str(secrets.randbelow(9) + 1)
        return first + "".join(str(secrets.randbelow(10)) for _ in range(digits - 1))
