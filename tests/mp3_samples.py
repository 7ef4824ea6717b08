"""Small MP3 files built in memory, so tests need no binary fixtures."""

from __future__ import annotations

FRAME_HEADER = bytes([0xFF, 0xFB, 0x90, 0x64])  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
FRAME_BYTES = 417  # 144 * 128000 / 44100, no padding


def mp3_bytes(frames: int = 40, *, id3: bool = False) -> bytes:
    """A playable (silent) MP3 of ``frames`` frames (~26 ms each), optionally behind an ID3v2 tag."""
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 if id3 else b""
    return tag + (FRAME_HEADER + b"\x00" * (FRAME_BYTES - len(FRAME_HEADER))) * frames
