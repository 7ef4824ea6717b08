from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ramal.wire import dates
from ramal.wire.errors import WireError

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def test_ymdhis_is_local_time_converted_to_utc() -> None:
    assert dates.parse_ymdhis("dataInicial", "20130129103646", SAO_PAULO) == datetime(
        2013, 1, 29, 12, 36, 46, tzinfo=UTC
    )  # January 2013: Sao Paulo was on summer time, UTC-2


@pytest.mark.parametrize(
    "text",
    [
        "20261399000000",
        "2026010100000",
        "202601010000000",
        "2026-01-01",
        "abcdefghijklmn",
        "20260230120000",
        "20260101240000",
        "20260101006000",
        "20260101000060",
        "00000101000000",
        "2026²101000000",
    ],
)
def test_ymdhis_rejects_impossible_or_malformed_dates(text: str) -> None:
    with pytest.raises(WireError, match="dataInicial"):
        dates.parse_ymdhis("dataInicial", text, SAO_PAULO)


def test_cron_and_display_formats() -> None:
    assert dates.parse_cron("cron", "29-01-2013-10-36-46", SAO_PAULO).hour == 12
    assert dates.parse_display("data_inicio", "2013-01-29 10:36:46", SAO_PAULO).minute == 36
    with pytest.raises(WireError, match="29-01-2013-10-36-46"):
        dates.parse_cron("cron", "2013-01-29 10:36:46", SAO_PAULO)


def test_format_display_and_duration() -> None:
    instant = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
    assert dates.format_display(instant, SAO_PAULO) == "2026-11-23 12:00:00"
    assert dates.format_display(None, SAO_PAULO) == ""
    assert dates.format_display(instant.replace(microsecond=999_999), SAO_PAULO) == "2026-11-23 12:00:00"


def test_format_display_keeps_four_digit_years_as_php_does() -> None:
    assert dates.format_display(datetime(999, 3, 4, 5, 6, 7, tzinfo=UTC), UTC) == "0999-03-04 05:06:07"
    assert dates.format_duration(3725) == "01:02:05"
    assert dates.format_duration(None) == "00:00:00"
    assert dates.format_duration(400_000) == "111:06:40"
