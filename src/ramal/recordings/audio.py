"""Synthetic call audio: a real, playable WAV of the talk duration.

The sandbox has no voices to record, so a recording is a soft 440 Hz beep every two seconds over
silence, which any player opens and which makes the duration audible. 8 kHz, 8-bit, mono (telephone
bandwidth) keeps it to 8 KB per second; the stdlib ``wave`` module writes it, no codec needed. One
two-second period is built once and repeated, so a ten-minute file costs milliseconds.
"""

from __future__ import annotations

import io
import math
import wave
from functools import cache

CONTENT_TYPE = "audio/wav"
EXTENSION = "wav"
SAMPLE_RATE = 8_000
PERIOD_SECONDS = 2
BEEP_SECONDS = 0.25
BEEP_HZ = 440
SILENCE = 128  # 8-bit WAV samples are unsigned; 128 is zero amplitude


@cache
def _period() -> bytes:
    beep_samples = int(SAMPLE_RATE * BEEP_SECONDS)
    beep = bytes(
        SILENCE + round(40 * math.sin(2 * math.pi * BEEP_HZ * n / SAMPLE_RATE)) for n in range(beep_samples)
    )
    return beep + bytes([SILENCE]) * (SAMPLE_RATE * PERIOD_SECONDS - beep_samples)


def synthesize_wav(seconds: int) -> bytes:
    """A WAV file exactly ``seconds`` long (at least one second, so it always plays)."""
    total = SAMPLE_RATE * max(seconds, 1)
    period = _period()
    frames = period * (total // len(period)) + period[: total % len(period)]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(frames)
    return buffer.getvalue()
