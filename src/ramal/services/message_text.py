"""Pure rules of outgoing messages: SMS segmenting and the daily send window (contract §5)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SEGMENT_LENGTH = 160
SHORT_NUMBER_SEGMENT_LENGTH = 140
MAX_TEXT_LENGTH = 700


def split_segments(text: str, *, short_number: bool) -> list[str]:
    """The parts an SMS goes out as: one part when it fits, else parts suffixed `` 1/3``, `` 2/3``...

    The suffix counts inside the segment (a handset cannot receive more than the segment holds), and
    lengths are in characters: ramal does not model GSM-7 versus UCS-2 encodings (docs/compat.md §3).
    """
    limit = SHORT_NUMBER_SEGMENT_LENGTH if short_number else SEGMENT_LENGTH
    if len(text) <= limit:
        return [text]
    count = 2
    while math.ceil(len(text) / (limit - len(f" {count}/{count}"))) > count:
        count += 1
    room = limit - len(f" {count}/{count}")
    return [f"{text[i * room : (i + 1) * room]} {i + 1}/{count}" for i in range(count)]


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Hours of the day (account zone) when messages may start: ``start_hour`` inclusive to
    ``end_hour`` exclusive; an end before the start wraps past midnight (22 to 6)."""

    start_hour: int  # 0..23
    end_hour: int  # 1..24

    def __post_init__(self) -> None:
        if self.start_hour == self.end_hour:
            raise ValueError("empty send window")

    def contains(self, hour: int) -> bool:
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour

    def first_instant_from(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """``instant`` if it falls in the window, else the next opening of the window."""
        local = instant.astimezone(zone)
        if self.contains(local.hour):
            return instant
        opening = datetime(local.year, local.month, local.day, self.start_hour, tzinfo=zone)
        if opening <= local:
            opening = datetime.combine(local.date() + timedelta(days=1), opening.timetz())
        return opening.astimezone(UTC)
