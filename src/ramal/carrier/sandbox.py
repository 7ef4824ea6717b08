"""The sandbox carrier: scripted, deterministic outcomes keyed by the destination's last four digits.

Like the well-known test numbers of other CPaaS, a handful of suffixes force a story; every other
destination answers after a short ring and talks for a duration derived from the call id (SHA-256), so
replaying the same request tells the same story. The table is documented in docs/compat.md §3.

=========  ==========================================================================
suffix     story
=========  ==========================================================================
``0001``   rings 3 s, then busy
``0002``   rings 30 s, never answered (destination leg)
``0003``   fails 1 s after being placed, never rings (invalid number)
``0004``   rings 3 s, answered, talks 600 s (ten minutes)
``0005``   origin leg rings 30 s and is never answered
other      rings 2-6 s, answered, talks 10-180 s (both derived from the call id)
=========  ==========================================================================
"""

from __future__ import annotations

import hashlib

from ramal.carrier.base import CallScript, Outcome

RING_TIMEOUT_SECONDS = 30
MIN_RING_SECONDS, MAX_RING_SECONDS = 2, 6
MIN_TALK_SECONDS, MAX_TALK_SECONDS = 10, 180

SCRIPTED: dict[str, CallScript] = {
    "0001": CallScript(Outcome.BUSY, "busy", ring_seconds=3),
    "0002": CallScript(Outcome.NO_ANSWER, "destination_no_answer", ring_seconds=RING_TIMEOUT_SECONDS),
    "0003": CallScript(Outcome.FAILED, "invalid_number", rings=False),
    "0004": CallScript(Outcome.ANSWERED, "hangup", ring_seconds=3, talk_seconds=600),
    "0005": CallScript(Outcome.NO_ANSWER, "origin_no_answer", ring_seconds=RING_TIMEOUT_SECONDS),
}


class SandboxCarrier:
    def outbound_script(self, call_id: str, origin: str, destination: str) -> CallScript:
        scripted = SCRIPTED.get(destination[-4:])
        return scripted if scripted is not None else _answered(call_id)

    def inbound_script(self, call_id: str, *, answered: bool) -> CallScript:
        if not answered:
            return CallScript(Outcome.NO_ANSWER, "missed", dial_seconds=0, ring_seconds=RING_TIMEOUT_SECONDS)
        return _answered(call_id, dial_seconds=0)


def _answered(call_id: str, dial_seconds: int = 1) -> CallScript:
    digest = hashlib.sha256(call_id.encode()).digest()
    ring = MIN_RING_SECONDS + digest[0] % (MAX_RING_SECONDS - MIN_RING_SECONDS + 1)
    talk = MIN_TALK_SECONDS + int.from_bytes(digest[1:3], "big") % (MAX_TALK_SECONDS - MIN_TALK_SECONDS + 1)
    return CallScript(
        Outcome.ANSWERED, "hangup", dial_seconds=dial_seconds, ring_seconds=ring, talk_seconds=talk
    )
