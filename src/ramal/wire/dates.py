"""Date and duration formats of the wire, one function each (contract §1).

Inputs are wall-clock times in the caller's account zone; they are turned into aware UTC instants
here, at the edge. Outputs go the other way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ramal.wire.errors import parameter_error

YMDHIS = "%Y%m%d%H%M%S"  # /extrato/* dataInicial, dataFinal
CRON = "%d-%m-%Y-%H-%M-%S"  # cron on /sms/send and /voz/call
DISPLAY = "%Y-%m-%d %H:%M:%S"  # every timestamp in responses; /sms/recebimento inputs


def _parse(name: str, text: str, fmt: str, example: str, zone: ZoneInfo) -> datetime:
    expected_length = len(example)
    if len(text) != expected_length:
        raise parameter_error(f"Parametro {name} invalido: use o formato {example}")
    try:
        local = datetime.strptime(text, fmt)
    except ValueError:
        raise parameter_error(f"Parametro {name} invalido: use o formato {example}") from None
    return local.replace(tzinfo=zone).astimezone(UTC)


def parse_ymdhis(name: str, text: str, zone: ZoneInfo) -> datetime:
    """``20130129000000`` -> aware UTC instant; strict: exactly 14 digits forming a real date."""
    if not text.isdigit():
        raise parameter_error(f"Parametro {name} invalido: use o formato AAAAMMDDHHMMSS (ex. 20130129000000)")
    return _parse(name, text, YMDHIS, "20130129000000", zone)


def parse_cron(name: str, text: str, zone: ZoneInfo) -> datetime:
    """``29-01-2013-10-36-46`` (d-m-Y-H-i-s) -> aware UTC instant."""
    return _parse(name, text, CRON, "29-01-2013-10-36-46", zone)


def parse_display(name: str, text: str, zone: ZoneInfo) -> datetime:
    """``2013-01-29 10:36:46`` (Y-m-d H:i:s) -> aware UTC instant."""
    return _parse(name, text, DISPLAY, "2013-01-29 10:36:46", zone)


def format_display(instant: datetime | None, zone: ZoneInfo) -> str:
    """Aware instant -> ``YYYY-MM-DD HH:MM:SS`` in ``zone``; ``""`` for a missing time."""
    if instant is None:
        return ""
    return instant.astimezone(zone).strftime(DISPLAY)


def format_duration(seconds: float | timedelta | None) -> str:
    """Seconds -> ``HH:MM:SS`` (hours keep growing past 99 rather than wrapping)."""
    if seconds is None:
        return "00:00:00"
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    hours, rest = divmod(max(total, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"
