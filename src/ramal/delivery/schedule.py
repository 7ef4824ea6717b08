"""When a failed delivery is tried again.

Attempts happen immediately, then after 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h and 12 h
(about 22.7 h in all); after the tenth failure the delivery is ``failed``: kept, listed, replayable.
Each wait gets +-10 % jitter so that a receiver coming back is not hit by every retry at once.
``scale`` compresses the whole schedule (tests, sandbox).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DELAYS_SECONDS = (0.0, 5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0, 43200.0)
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class RetrySchedule:
    scale: float = 1.0
    jitter: float = 0.1
    delays: tuple[float, ...] = DELAYS_SECONDS
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after the ``attempts``-th failure, or ``None`` when attempts are exhausted.

        A receiver's ``Retry-After`` (429/503) replaces the scheduled wait, capped at 6 h.
        """
        if attempts >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS) * self.scale
        base = self.delays[attempts] * self.scale
        return base * (1 + self.rng.uniform(-self.jitter, self.jitter))
