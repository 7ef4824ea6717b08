from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ramal.services.message_text import SendWindow, split_segments

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(
    ("length", "short_number", "parts"),
    [
        (1, False, 1),
        (160, False, 1),
        (161, False, 2),
        (312, False, 2),  # 2 x (160 - len(" 1/2"))
        (313, False, 3),
        (700, False, 5),
        (140, True, 1),
        (141, True, 2),
        (700, True, 6),
    ],
)
def test_segment_boundaries(length: int, short_number: bool, parts: int) -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(length))
    segments = split_segments(text, short_number=short_number)
    assert len(segments) == parts
    limit = 140 if short_number else 160
    assert all(len(segment) <= limit for segment in segments)
    if parts == 1:
        assert segments == [text]
    else:
        assert [s.rsplit(" ", 1)[1] for s in segments] == [f"{i}/{parts}" for i in range(1, parts + 1)]
        assert "".join(s.rsplit(" ", 1)[0] for s in segments) == text  # nothing lost or repeated


def test_accented_text_counts_characters() -> None:
    assert split_segments("ã" * 160, short_number=False) == ["ã" * 160]


def test_window_keeps_an_instant_inside_it() -> None:
    instant = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 10:00 in São Paulo
    assert SendWindow(8, 18).first_instant_from(instant, SP) == instant


def test_window_moves_to_the_same_day_opening() -> None:
    instant = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 06:30 local
    assert SendWindow(8, 18).first_instant_from(instant, SP) == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_window_moves_to_the_next_day_after_closing() -> None:
    instant = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 19:00 local, window closed at 18:00
    assert SendWindow(8, 18).first_instant_from(instant, SP) == datetime(2026, 11, 24, 11, 0, tzinfo=UTC)


def test_window_across_midnight() -> None:
    window = SendWindow(22, 6)
    assert [hour for hour in range(24) if window.contains(hour)] == [0, 1, 2, 3, 4, 5, 22, 23]
    instant = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 12:00 local
    assert window.first_instant_from(instant, SP) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 22:00


def test_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        SendWindow(8, 8)


def test_whole_day_window_is_fine() -> None:
    assert all(SendWindow(0, 24).contains(hour) for hour in range(24))
