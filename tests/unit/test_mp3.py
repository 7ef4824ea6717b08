from __future__ import annotations

import os

import pytest

from ramal.recordings.mp3 import looks_like_mp3
from tests.mp3_samples import mp3_bytes


@pytest.mark.parametrize("data", [mp3_bytes(), mp3_bytes(id3=True)])
def test_real_mp3_frames_with_or_without_id3(data: bytes) -> None:
    assert looks_like_mp3(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is text" * 100,
        b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 4000,  # a WAV
        b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10,  # a tag and nothing to play
        b"junk" * 500 + mp3_bytes(),  # frames hidden behind junk: not an MP3 file
        bytes([0xFF, 0xFB]) + os.urandom(5000),  # a frame sync followed by noise
        mp3_bytes(1),  # one frame cannot be confirmed by the next
    ],
)
def test_anything_else_is_refused(data: bytes) -> None:
    assert not looks_like_mp3(data)
