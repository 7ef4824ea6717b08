"""The Master.csv reader: format quirks, time zones, idempotency keys and every kind of bad line."""

from __future__ import annotations

import io
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ramal.carrier.asterisk import BadLine, CdrRecord, is_inbound_context, read_master_csv
from tests.cdr_lines import cdr_line

SAMPLE = Path(__file__).parent.parent / "data" / "Master.csv"
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def read(text: str | bytes, zone: tzinfo = UTC) -> list[CdrRecord | BadLine]:
    data = text.encode() if isinstance(text, str) else text
    return list(read_master_csv(io.BytesIO(data), zone))


def one(text: str | bytes, zone: tzinfo = UTC) -> CdrRecord:
    (item,) = read(text, zone)
    assert isinstance(item, CdrRecord), item
    return item


def bad(text: str | bytes) -> list[tuple[int, str]]:
    return [(item.line, item.reason) for item in read(text) if isinstance(item, BadLine)]


def test_the_sample_file_reads_every_record_with_its_quirks() -> None:
    with SAMPLE.open("rb") as stream:
        records = list(read_master_csv(stream, SAO_PAULO))
    assert all(isinstance(r, CdrRecord) for r in records)
    assert [(r.status, r.end_reason) for r in records] == [  # type: ignore[union-attr]
        ("completed", "answered"),
        ("busy", "busy"),
        ("no_answer", "no_answer"),
        ("completed", "answered"),
        ("failed", "failed"),
        ("completed", "answered"),
    ]
    first, busy = records[0], records[1]
    assert isinstance(first, CdrRecord)
    assert isinstance(busy, CdrRecord)
    assert (first.started_at, first.answered_at, first.ended_at) == (
        "2026-11-02 12:15:00",
        "2026-11-02 12:15:07",
        "2026-11-02 12:17:07",
    )
    assert (first.duration_seconds, first.billable_seconds) == (127, 120)
    assert first.campos == {"CPF": "000.000.000-00"}
    assert first.key == "1762074900.1"
    assert busy.answered_at is None
    assert busy.billable_seconds == 0


def test_quoted_commas_and_doubled_quotes_stay_inside_their_field() -> None:
    record = one(
        cdr_line(clid='"Ana, ""Vendas""" <1003>', lastdata="SIP/trunk/5541,60,tT", userfield="nota=a,b")
    )
    assert record.origin == "1001"
    assert record.destination == "5541999990001"
    assert record.status == "completed"
    assert record.campos == {"nota": "a,b"}


@pytest.mark.parametrize("columns", [16, 17, 18, 19, 20, 21])
def test_every_column_count_from_16_to_21_is_accepted(columns: int) -> None:
    record = one(cdr_line(columns))
    assert record.started_at == "2026-11-02 09:15:00"
    assert record.duration_seconds == 127


def test_16_columns_have_no_uniqueid_so_the_key_is_a_digest_of_the_row() -> None:
    line = cdr_line(16)
    key = one(line).key
    assert key.startswith("csv:")
    assert len(key) == 44
    assert one(line).key == key  # stable
    assert one(cdr_line(16, billsec="119")).key != key


def test_the_sequence_column_is_part_of_the_key_and_repeated_uniqueids_are_numbered() -> None:
    assert one(cdr_line(21)).key == "1762074900.1/7"
    records = read(cdr_line(18) + cdr_line(18, dst="5541999990002") + cdr_line(18))
    assert [r.key for r in records] == ["1762074900.1", "1762074900.1#2", "1762074900.1#3"]  # type: ignore[union-attr]


def test_a_long_uniqueid_becomes_a_digest_that_fits_the_column() -> None:
    key = one(cdr_line(uniqueid="x" * 150)).key
    assert key.startswith("sha:")
    assert len(key) <= 64


def test_local_times_are_converted_and_gmt_times_kept() -> None:
    line = cdr_line()
    assert one(line, SAO_PAULO).started_at == "2026-11-02 12:15:00"
    assert one(line, UTC).started_at == "2026-11-02 09:15:00"


def test_times_across_a_dst_change_follow_zoneinfo() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST (01:xx is ambiguous: first one)
    lines = (
        cdr_line(start="2026-03-08 01:59:59", answer="", end="2026-03-08 03:00:01")
        + cdr_line(start="2026-11-01 01:30:00", answer="", end="2026-11-01 02:30:00")
        + cdr_line(start="2026-11-01 12:00:00", answer="", end="2026-11-01 12:00:10")
    )
    records = read(lines, new_york)
    assert [(r.started_at, r.ended_at) for r in records] == [  # type: ignore[union-attr]
        ("2026-03-08 06:59:59", "2026-03-08 07:00:01"),
        ("2026-11-01 05:30:00", "2026-11-01 07:30:00"),
        ("2026-11-01 17:00:00", "2026-11-01 17:00:10"),
    ]


def test_a_zone_with_a_half_hour_offset_is_converted_exactly() -> None:
    records = read(cdr_line() + cdr_line(uniqueid="2", start="2026-11-02 09:16:30"), ZoneInfo("Asia/Kolkata"))
    assert [r.started_at for r in records] == ["2026-11-02 03:45:00", "2026-11-02 03:46:30"]  # type: ignore[union-attr]


def test_userfield_pairs_free_text_and_limits() -> None:
    assert one(cdr_line(userfield="a=1; b = x=y ;")).campos == {"a": "1", "b": "x=y"}
    assert one(cdr_line(userfield="cliente VIP")).campos == {"userfield": "cliente VIP"}
    assert one(cdr_line(userfield="nome=João da Silva")).campos == {"nome": "João da Silva"}
    assert one(cdr_line(userfield="   ")).campos == {}
    assert bad(cdr_line(userfield="a=1;a=2")) == [(1, "userfield repete a chave 'a'")]
    assert bad(cdr_line(userfield=";".join(f"k{i}=v" for i in range(31)))) == [
        (1, "userfield com mais de 30 campos")
    ]
    assert bad(cdr_line(userfield="k=" + "v" * 1025)) == [
        (1, "campo 'k' com valor de mais de 1024 caracteres")
    ]
    assert "nome de mais de 64" in bad(cdr_line(userfield="k" * 65 + "=v"))[0][1]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"start": "2026-11-02T09:15:00"}, "start invalido: '2026-11-02T09:15:00'"),
        ({"start": "02/11/2026 09:15:00"}, "start invalido"),
        ({"end": "2026-02-30 09:15:00"}, "end invalido: '2026-02-30 09:15:00' (data ou hora inexistente)"),
        ({"answer": "2026-11-02 25:00:00"}, "answer invalido"),
        ({"answer": "2026-11-02 09:60:00"}, "answer invalido"),
        ({"duration": "12.5"}, "duration nao e um inteiro de segundos: '12.5'"),
        ({"billsec": "-1"}, "billsec nao e um inteiro"),
        ({"billsec": ""}, "billsec nao e um inteiro"),
        ({"disposition": "HUNG UP"}, "disposition desconhecida: 'HUNG UP'"),
        ({"disposition": "answered"}, "disposition desconhecida"),
        ({"dst": "9" * 33}, "dst com mais de 32 caracteres"),
    ],
)
def test_bad_fields_are_reported_with_the_line_and_reason(values: dict[str, str], reason: str) -> None:
    text = cdr_line() + cdr_line(uniqueid="2", **values) + cdr_line(uniqueid="3")
    (problem,) = bad(text)
    assert problem[0] == 2
    assert problem[1].startswith(reason)


def test_a_cached_hour_still_checks_minutes_and_seconds() -> None:
    text = cdr_line() + cdr_line(uniqueid="2", end="2026-11-02 09:17:7x")
    assert bad(text) == [(2, "end invalido: '2026-11-02 09:17:7x' (esperado AAAA-MM-DD HH:MM:SS)")]


def test_wrong_column_counts_are_reported() -> None:
    text = '"only","three","columns"\n' + cdr_line() + cdr_line(21).rstrip("\n") + ',"extra"\n'
    assert bad(text) == [(1, "3 colunas (esperado de 16 a 21)"), (3, "22 colunas (esperado de 16 a 21)")]


def test_broken_quoting_is_reported_and_reading_goes_on() -> None:
    text = cdr_line() + '"acme","1001"x,"dst"\n' + cdr_line(uniqueid="3")
    items = read(text)
    assert [type(i).__name__ for i in items] == ["CdrRecord", "BadLine", "CdrRecord"]
    assert items[1].line == 2
    assert "CSV malformado" in items[1].reason


def test_non_utf8_bytes_are_reported_by_line_and_column() -> None:
    text = cdr_line().encode() + cdr_line(uniqueid="2", src="Jo\xe3o").encode("latin-1") + cdr_line().encode()
    assert bad(text) == [(2, "bytes que nao sao UTF-8 na coluna 11 (byte 0xe3)")]


def test_a_record_spanning_lines_is_numbered_by_its_first_line() -> None:
    text = cdr_line() + cdr_line(uniqueid="2", userfield="linha1\nlinha2", src="x" * 40) + cdr_line()
    assert bad(text) == [(2, "src com mais de 32 caracteres")]
    items = read(cdr_line(userfield="a\nb") + cdr_line(columns=3))
    assert [i.line for i in items] == [1, 3]


def test_blank_lines_bom_and_crlf_are_tolerated() -> None:
    text = "\ufeff" + cdr_line().replace("\n", "\r\n") + "\r\n\n" + cdr_line(uniqueid="2")
    records = read(text)
    assert [r.line for r in records] == [1, 4]
    assert all(isinstance(r, CdrRecord) for r in records)


def test_an_empty_file_has_no_records() -> None:
    assert read(b"") == []


@pytest.mark.parametrize(
    ("context", "inbound"),
    [
        ("from-trunk", True),
        ("from-pstn", True),
        ("FROM-DID", True),
        ("ext-did", True),
        ("incoming_sip", True),
        ("inbound-br", True),
        ("from-internal", False),
        ("default", False),
        ("trunk-out", False),
        ("macro-dialout-trunk", False),
    ],
)
def test_inbound_contexts(context: str, inbound: bool) -> None:
    assert is_inbound_context(context) is inbound
