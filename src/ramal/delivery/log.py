"""The delivery log and replay: what operators and customers use to find a "missing" webhook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ramal.clock import Clock
from ramal.store.database import Database
from ramal.store.repositories.deliveries import AttemptView, DeliveryFilter, DeliveryRepository, DeliveryView

MAX_LIST = 1000


@dataclass(frozen=True, slots=True)
class LoggedDelivery:
    delivery: DeliveryView
    attempts: list[AttemptView]


class DeliveryLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def find(self, where: DeliveryFilter, limit: int = 100) -> list[LoggedDelivery]:
        with self.database.read() as connection:
            repo = DeliveryRepository(connection, postgresql=self.database.is_postgresql)
            found = repo.find(where, min(limit, MAX_LIST))
            attempts = repo.attempts_of([d.id for d in found])
        return [LoggedDelivery(d, attempts[d.id]) for d in found]

    def replay(self, where: DeliveryFilter) -> int:
        """Queue matching deliveries again, due now; returns how many."""
        with self.database.write() as connection:
            return DeliveryRepository(connection, postgresql=self.database.is_postgresql).replay(
                where, self.clock.now()
            )

    def purge(self, retention_days: int, limit: int = 500) -> int:
        """Delete one batch of events older than ``retention_days`` that nothing is owed for (with
        their deliveries and attempts); returns how many events. Replays reach back this far."""
        cutoff = self.clock.now() - timedelta(days=retention_days)
        with self.database.write() as connection:
            return DeliveryRepository(connection, postgresql=self.database.is_postgresql).purge_finished(
                cutoff, limit
            )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime) -> datetime:
    """``90s``, ``30m``, ``2h``, ``7d`` before ``now``, or an ISO-8601 instant (naive = UTC).

    Shared by ``ramal callbacks ... --since`` and the admin API's ``desde``; raises ValueError.
    """
    value = text.strip()
    if len(value) >= 2 and value[:-1].isdigit() and value[-1].lower() in _UNITS:
        return now - timedelta(seconds=int(value[:-1]) * _UNITS[value[-1].lower()])
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r}: use 90s, 30m, 2h, 7d or an ISO-8601 time") from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
