"""Asterisk ``cdr_csv`` records (``Master.csv``), read and checked one line at a time.

The format (``/work/shared/asterisk-cdr-csv.md``): 16 to 21 comma-separated columns, strings quoted with
inner quotes doubled, ``lastdata`` and ``clid`` may hold commas, an unanswered call has an empty
``answer``, times are the server's wall clock (or GMT with ``usegmtime=yes``). The stdlib ``csv``
module parses it; this module turns each row into a :class:`CdrRecord` or a :class:`BadLine` saying
which line is wrong and why, so an importer can report every problem before storing anything.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import IO, NamedTuple

# The same custom-field limits as the API's (one source of truth, docs/compat.md).
from ramal.wire.params import CAMPOS_MAX_KEY_LENGTH, CAMPOS_MAX_KEYS, CAMPOS_MAX_VALUE_LENGTH

MIN_COLUMNS = 16
MAX_COLUMNS = 21
MAX_NUMBER_LENGTH = 32  # calls.origin / calls.destination
MAX_KEY_LENGTH = 64  # calls.external_id
FREE_TEXT_CAMPO = "userfield"

# disposition -> (calls.status, calls.end_reason)
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "ANSWERED": ("completed", "answered"),
    "NO ANSWER": ("no_answer", "no_answer"),
    "BUSY": ("busy", "busy"),
    "FAILED": ("failed", "failed"),
    "CONGESTION": ("failed", "congestion"),
}

# Dialplan contexts that receive calls from outside: FreePBX/Issabel names and the usual hand-written ones.
_INBOUND_CONTEXT = re.compile(
    r"(?:from-(?:trunk|pstn|did|external|provider|carrier|dahdi|zaptel|sip-external)|ext-did|did"
    r"|incoming|inbound)(?:[-_].*)?",
    re.IGNORECASE,
)
_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:[0-5]\d:[0-5]\d")
_MINUTES = re.compile(r":[0-5]\d:[0-5]\d")

(
    _SRC,
    _DST,
    _DCONTEXT,
    _START,
    _ANSWER,
    _END,
    _DURATION,
    _BILLSEC,
    _DISPOSITION,
    _UNIQUEID,
    _USERFIELD,
    _SEQUENCE,
) = (1, 2, 3, 9, 10, 11, 12, 13, 14, 16, 17, 20)


class CdrRecord(NamedTuple):
    """One call as Master.csv tells it.

    Times are UTC as ``YYYY-MM-DD HH:MM:SS`` text, not datetimes: a million-row file has three
    million of them and building, converting and re-formatting datetime objects cost more than all
    the rest of the parsing (bench/cdr_import.py). A NamedTuple, not a dataclass, for the same reason.
    """

    line: int
    origin: str
    destination: str
    context: str
    started_at: str
    answered_at: str | None
    ended_at: str
    duration_seconds: int
    billable_seconds: int
    status: str
    end_reason: str
    key: str  # idempotency key, stored as calls.external_id
    campos: dict[str, str]


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


class _Invalid(Exception):
    """A field that cannot be read; becomes a :class:`BadLine`."""


def is_inbound_context(context: str) -> bool:
    """Whether a dialplan context name looks like the entry point of calls from outside."""
    return _INBOUND_CONTEXT.fullmatch(context.strip()) is not None


def read_master_csv(stream: IO[bytes], zone: tzinfo) -> Iterator[CdrRecord | BadLine]:
    """Every record of ``stream`` in order, or the reason its line is unusable.

    ``zone`` is where the wall-clock times were written (``UTC`` for ``usegmtime=yes``). Blank lines
    are skipped. A record is numbered by the physical line it starts on.
    """
    return iter(CdrReader(stream, zone))


class CdrReader:
    """The records of a Master.csv from the stream's position (a line start) on, as
    :func:`read_master_csv` yields them, optionally only a part of the file so that parts can be read in
    parallel (services/imports.py).

    With ``stop`` (a byte offset) it ends after the first record that ends at or after ``stop``: a
    record open at ``stop`` (a quoted field holding a newline) is read to its end, so :attr:`end` says
    where the next part really starts. Lines are numbered from 1 at the starting position; a byte
    order mark is only skipped at the start of the file. :attr:`keys` holds the ``uniqueid`` repeat
    counts, which a later part's keys depend on (:func:`renumbered_keys`).
    """

    def __init__(self, stream: IO[bytes], zone: tzinfo, *, stop: int | None = None) -> None:
        self.stream = stream
        self.zone = zone
        self.stop = sys.maxsize if stop is None else stop
        self.end = stream.tell()  # where the last record read ends
        self.lines = 0  # physical lines read
        self.keys = KeyNumbering()
        self._position = self.end  # where the lines handed to the csv reader end

    def __iter__(self) -> Iterator[CdrRecord | BadLine]:
        undecodable: dict[int, str] = {}
        reader = csv.reader(self._decoded_lines(undecodable), strict=True)
        times = _UtcConverter(self.zone)
        keys = self.keys
        stop = self.stop
        last_line = 0
        while self.end < stop:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                fields, malformed = [], f"CSV malformado: {error}"
            else:
                malformed = ""
            first_line, last_line = last_line + 1, reader.line_num
            self.lines, self.end = last_line, self._position
            if malformed:
                yield BadLine(first_line, malformed)
                continue
            if undecodable:
                reason = _undecodable_reason(undecodable, first_line, last_line)
                if reason is not None:
                    yield BadLine(first_line, reason)
                    continue
            if not fields:
                continue
            try:
                yield _record(fields, first_line, times, keys)
            except _Invalid as error:
                yield BadLine(first_line, str(error))

    def _decoded_lines(self, undecodable: dict[int, str]) -> Iterator[str]:
        """Lines as text; a line that is not UTF-8 is noted (and replaced) so its record can be refused.

        The csv reader asks for a line only when its record needs one, so after each record
        ``_position`` is exactly where that record ends.
        """
        at_file_start = self.end == 0
        for number, raw in enumerate(self.stream, start=1):
            self._position += len(raw)
            try:
                text = raw.decode()
            except UnicodeDecodeError as error:
                undecodable[number] = (
                    f"bytes que nao sao UTF-8 na coluna {error.start + 1} (byte 0x{raw[error.start]:02x})"
                )
                text = raw.decode(errors="replace")
            yield text.removeprefix("\ufeff") if number == 1 and at_file_start else text


def _undecodable_reason(undecodable: dict[int, str], first: int, last: int) -> str | None:
    for number in range(first, last + 1):
        if number in undecodable:
            return undecodable.pop(number)
    return None


def _record(fields: list[str], line: int, times: _UtcConverter, keys: KeyNumbering) -> CdrRecord:
    """One row as a record; runs a million times per import, hence the inlined checks."""
    columns = len(fields)
    if not MIN_COLUMNS <= columns <= MAX_COLUMNS:
        raise _Invalid(f"{columns} colunas (esperado de {MIN_COLUMNS} a {MAX_COLUMNS})")
    origin, destination = fields[_SRC], fields[_DST]
    if len(origin) > MAX_NUMBER_LENGTH or len(destination) > MAX_NUMBER_LENGTH:
        column = "src" if len(origin) > MAX_NUMBER_LENGTH else "dst"
        raise _Invalid(f"{column} com mais de {MAX_NUMBER_LENGTH} caracteres")
    outcome = DISPOSITIONS.get(fields[_DISPOSITION])
    if outcome is None:
        raise _Invalid(f"disposition desconhecida: {fields[_DISPOSITION]!r}")
    duration, billsec = fields[_DURATION], fields[_BILLSEC]
    if not (duration.isdigit() and billsec.isdigit() and duration.isascii() and billsec.isascii()):
        column, text = ("duration", duration) if not _is_seconds(duration) else ("billsec", billsec)
        raise _Invalid(f"{column} nao e um inteiro de segundos: {text!r}")
    answer = fields[_ANSWER]
    userfield = fields[_USERFIELD] if columns > _USERFIELD else ""
    utc = times.utc
    return CdrRecord(
        line,
        origin,
        destination,
        fields[_DCONTEXT],
        utc(fields[_START], "start"),
        utc(answer, "answer") if answer else None,
        utc(fields[_END], "end"),
        int(duration),
        int(billsec),
        outcome[0],
        outcome[1],
        keys.key(fields),
        _campos(userfield) if userfield else {},
    )


def _is_seconds(text: str) -> bool:
    return text.isdigit() and text.isascii()


class _UtcConverter:
    """Wall-clock ``YYYY-MM-DD HH:MM:SS`` in one zone to the same text in UTC.

    This runs three times per row, so each hour of the file is converted once through ``zoneinfo``
    and remembered; later times in that hour only have their ``:MM:SS`` checked and appended. Hours
    whose offset is not whole hours or changes within the hour (DST transitions) take the slow path
    every time, which is exactly ``zoneinfo``'s answer.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._hours: dict[str, str] = {}  # wall "YYYY-MM-DD HH" -> UTC "YYYY-MM-DD HH"

    def utc(self, text: str, column: str) -> str:
        hour = self._hours.get(text[:13])
        if hour is not None and _MINUTES.fullmatch(text, 13) is not None:
            return hour + text[13:]
        return self._convert(text, column)

    def _convert(self, text: str, column: str) -> str:
        if _TIME.fullmatch(text) is None:
            raise _Invalid(f"{column} invalido: {text!r} (esperado AAAA-MM-DD HH:MM:SS)")
        try:
            wall = datetime.fromisoformat(text)
        except ValueError:
            raise _Invalid(f"{column} invalido: {text!r} (data ou hora inexistente)") from None
        first = wall.replace(minute=0, second=0, tzinfo=self.zone).utcoffset()
        last = wall.replace(minute=59, second=59, tzinfo=self.zone).utcoffset()
        utc = wall.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        if first == last and first is not None and first % timedelta(hours=1) == timedelta(0):
            self._hours[text[:13]] = utc[:13]
        return utc


class KeyNumbering:
    """The idempotency key of each record (see docs/compat.md, "CDR import").

    ``uniqueid`` (with ``/sequence`` when that column is present); Asterisk 12+ may write several
    CDRs for one channel with the same ``uniqueid``, so a repeat within the file gets ``#2``, ``#3``...
    in file order. Without ``uniqueid`` the key is ``csv:`` plus a BLAKE2b digest of the whole row, so
    a line written twice is one call. Keys longer than the column become ``sha:`` plus a digest.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}  # uniqueid[/sequence] -> records seen with it

    def key(self, fields: list[str]) -> str:
        uniqueid = fields[_UNIQUEID] if len(fields) > _UNIQUEID else ""
        if not uniqueid:
            return "csv:" + _digest("\x1f".join(fields))
        if len(fields) > _SEQUENCE and fields[_SEQUENCE]:
            uniqueid = f"{uniqueid}/{fields[_SEQUENCE]}"
        seen = self.counts.get(uniqueid, 0) + 1
        self.counts[uniqueid] = seen
        return _numbered_key(uniqueid, seen)


def _numbered_key(uniqueid: str, seen: int) -> str:
    key = uniqueid if seen == 1 else f"{uniqueid}#{seen}"
    return key if len(key) <= MAX_KEY_LENGTH else "sha:" + _digest(key)


def renumbered_keys(earlier: dict[str, int], later: dict[str, int]) -> dict[str, str]:
    """Keys that a part of the file numbered on its own (``later``: its :attr:`KeyNumbering.counts`)
    must take because the parts before it (``earlier``) already used that ``uniqueid``: old -> new.

    Adds ``later``'s counts to ``earlier``, so that it describes every part read so far.
    """
    shared = [(uniqueid, earlier[uniqueid]) for uniqueid in earlier.keys() & later.keys()]
    earlier.update(later)  # a million-row file has ~a million keys: set and dict operations in C
    renamed: dict[str, str] = {}
    for uniqueid, before in shared:
        count = later[uniqueid]
        earlier[uniqueid] = before + count
        for seen in range(1, count + 1):
            renamed[_numbered_key(uniqueid, seen)] = _numbered_key(uniqueid, before + seen)
    return renamed


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _campos(userfield: str) -> dict[str, str]:
    """``K=V[;K2=V2]`` as custom fields; any other non-empty text is kept whole as ``userfield``."""
    campos: dict[str, str] = {}
    for part in userfield.split(";"):
        key, equals, value = part.partition("=")
        key = key.strip()
        if not (equals and key):
            if part.strip():
                return _checked({FREE_TEXT_CAMPO: userfield.strip()})
            continue
        if key in campos:
            raise _Invalid(f"userfield repete a chave {key!r}")
        campos[key] = value.strip()
    return _checked(campos)


def _checked(campos: dict[str, str]) -> dict[str, str]:
    if len(campos) > CAMPOS_MAX_KEYS:
        raise _Invalid(f"userfield com mais de {CAMPOS_MAX_KEYS} campos")
    for key, value in campos.items():
        if len(key) > CAMPOS_MAX_KEY_LENGTH:
            raise _Invalid(f"campo {key[:20]!r}... com nome de mais de {CAMPOS_MAX_KEY_LENGTH} caracteres")
        if len(value) > CAMPOS_MAX_VALUE_LENGTH:
            raise _Invalid(f"campo {key!r} com valor de mais de {CAMPOS_MAX_VALUE_LENGTH} caracteres")
    return campos
