"""Who is calling: resolved once per request from the access token."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: int
    pin_id: int
    pin: str
    is_admin: bool  # admin credentials may act across every pin of their account
    timezone: ZoneInfo
