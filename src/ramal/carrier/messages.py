"""The sandbox carrier for SMS and voice messages: a deterministic script per destination.

The outcome depends only on the message kind and the destination's last four digits, so integrators
can rehearse every story on purpose (the table is in docs/compat.md §3):

====  =====================================================  ===============================================
last  SMS                                                    voice message
====  =====================================================  ===============================================
0001  sent, waits for the handset, fails ``expired`` (600 s)  never answers: every attempt rings 30 s, 180 s
                                                              apart, then fails ``no_answer``
0002  sent, delivered late (120 s)                           answers on the 2nd attempt (``no_answer`` with 1)
0003  fails ``invalid_number`` at once                       fails ``invalid_number`` at once
0004  sent, then ``rejected`` by the network (2 s)           busy on every attempt, then fails ``busy``
other sent after 1 s, delivered 2-6 s later                  answered on the 1st attempt, delivered 15-19 s
====  =====================================================  ===============================================

Times are sandbox seconds, divided by ``RAMAL_SANDBOX_SPEED``. :class:`MessageSimulator` is the loop
that applies due steps; the timeline lives in the database (``next_step_at``), so a restart resumes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from ramal.loops import Loop
from ramal.services.messages import MessageKind, MessageService, MessageStatus, Step

QUEUE_SECONDS = 1.0
HANDSET_WAIT_SECONDS = 600.0  # how long an SMS waits for a switched-off handset before expiring
LATE_DELIVERY_SECONDS = 120.0
REJECT_SECONDS = 2.0
ATTEMPT_SPACING_SECONDS = 180.0  # voice: "3 attempts, 3 minutes apart" (contract §5)
RING_SECONDS = 30.0  # an unanswered attempt rings this long
BUSY_SECONDS = 2.0
LISTEN_SECONDS = 15.0  # answered after a short ring, then the message plays

_QUEUED = Step(MessageStatus.QUEUED, 0)


def _sent(attempt: int, after: float) -> Step:
    return Step(MessageStatus.SENT, attempt, after)


def _failed(attempts: int, after: float, reason: str) -> Step:
    return Step(MessageStatus.FAILED, attempts, after, reason)


def _delivered(attempts: int, after: float) -> Step:
    return Step(MessageStatus.DELIVERED, attempts, after)


def _variation(destination: str) -> int:
    """0-4 extra seconds from the last digit: varied, yet the same number always tells the same story."""
    return int(destination[-1]) % 5


def sms_script(destination: str) -> list[Step]:
    sent = _sent(1, QUEUE_SECONDS)
    match destination[-4:]:
        case "0001":
            return [_QUEUED, sent, _failed(1, HANDSET_WAIT_SECONDS, "expired")]
        case "0002":
            return [_QUEUED, sent, _delivered(1, LATE_DELIVERY_SECONDS)]
        case "0003":
            return [_QUEUED, _failed(0, 0.0, "invalid_number")]
        case "0004":
            return [_QUEUED, sent, _failed(1, REJECT_SECONDS, "rejected")]
        case _:
            return [_QUEUED, sent, _delivered(1, 2.0 + _variation(destination))]


def voice_script(destination: str, max_attempts: int) -> list[Step]:
    attempts = max(max_attempts, 1)
    dialled = [_sent(n, QUEUE_SECONDS if n == 1 else ATTEMPT_SPACING_SECONDS) for n in range(1, attempts + 1)]
    match destination[-4:]:
        case "0001":
            return [_QUEUED, *dialled, _failed(attempts, RING_SECONDS, "no_answer")]
        case "0002" if attempts >= 2:
            return [_QUEUED, *dialled[:2], _delivered(2, LISTEN_SECONDS)]
        case "0002":
            return [_QUEUED, dialled[0], _failed(1, RING_SECONDS, "no_answer")]
        case "0003":
            return [_QUEUED, _failed(0, 0.0, "invalid_number")]
        case "0004":
            return [_QUEUED, *dialled, _failed(attempts, BUSY_SECONDS, "busy")]
        case _:
            return [_QUEUED, dialled[0], _delivered(1, LISTEN_SECONDS + _variation(destination))]


class SandboxMessageCarrier:
    """The :class:`~ramal.services.messages.MessageCarrier` of the sandbox."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed

    def timeline(self, kind: MessageKind, destination: str, max_attempts: int) -> Sequence[Step]:
        steps = (
            sms_script(destination) if kind is MessageKind.SMS else voice_script(destination, max_attempts)
        )
        return [dataclasses.replace(step, after_seconds=step.after_seconds / self.speed) for step in steps]


class MessageSimulator(Loop):
    """Moves due messages along their timelines (``run_once`` is what tests drive)."""

    name = "message-simulator"

    def __init__(self, messages: MessageService, idle_seconds: float = 0.2, batch: int = 500) -> None:
        super().__init__(idle_seconds)
        self.messages = messages
        self.batch = batch

    async def run_once(self) -> int:
        return await asyncio.to_thread(self._step)

    def _step(self) -> int:
        if not self.messages.has_due():  # the idle tick: a read, not a write transaction
            return 0
        return self.messages.advance_due(self.batch)
