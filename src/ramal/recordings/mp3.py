"""Is this upload really an MP3? Voice messages play what customers upload, so junk is refused at once.

A file passes when it *starts* like an MP3 (an ID3v2 tag or an MPEG audio frame sync) and mutagen
then finds real MPEG frames in it. mutagen alone would also accept a file with a stray frame somewhere
inside junk, so the start check comes first.
"""

from __future__ import annotations

import io

from mutagen.mp3 import MP3

MAX_MP3_BYTES = 4 * 1024 * 1024  # "MP3 <= 4 MB" (contract §5), read as 4 MiB


def looks_like_mp3(data: bytes) -> bool:
    has_id3 = data[:3] == b"ID3"
    has_frame_sync = len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0
    if not (has_id3 or has_frame_sync):
        return False
    try:
        MP3(io.BytesIO(data))  # type: ignore[no-untyped-call]
    except Exception:  # any parser failure on untrusted bytes means "not an MP3", never a crash
        return False
    return True
