"""What ramal asks of a carrier: for each call, the story it will tell.

A real carrier (a SIP trunk, an Asterisk box) would report events as they happen; the sandbox carrier
decides the whole story up front from the numbers and the call id. Either way the call service only
needs a :class:`CallScript`: how long each phase lasts and how the call ends. Scripts are pure
functions of their inputs, so they are never stored: the simulator recomputes them at every step,
and a restart resumes a call from its persisted status and ``next_step_at`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """How the far end reacts once the call rings (or fails before it can)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CallScript:
    """One call's story, in *story* seconds (the sandbox speed factor compresses them in wall time).

    ``dial_seconds``: queued until the first leg rings (or until it fails, when ``rings`` is false).
    ``ring_seconds``: ringing until answer or give-up. ``talk_seconds``: answered until hang-up.
    """

    outcome: Outcome
    end_reason: str
    dial_seconds: int = 1
    rings: bool = True
    ring_seconds: int = 0
    talk_seconds: int = 0

    @property
    def total_seconds(self) -> int:
        talk = self.talk_seconds if self.outcome is Outcome.ANSWERED else 0
        return self.dial_seconds + (self.ring_seconds if self.rings else 0) + talk


class Carrier(Protocol):
    """Decides how calls unfold. Implementations must be deterministic for a given input."""

    def outbound_script(self, call_id: str, origin: str, destination: str) -> CallScript: ...

    def inbound_script(self, call_id: str, *, answered: bool) -> CallScript: ...
