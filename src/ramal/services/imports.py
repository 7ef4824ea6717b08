"""Importing the call records an operator already has (Asterisk ``Master.csv``) as calls of one pin.

An import never leaves a file half-read: every line is parsed and checked (every bad line is reported
with its number), and nothing is stored if any line is bad unless the operator asks to skip them. How
that is guaranteed depends on the backend, because on each one a different resource is the bottleneck:

- SQLite: the whole file is checked first and the ready-to-insert rows are spooled to a temporary file
  (re-parsing would double the CPU cost), then stored in large batches, each its own transaction, so
  the database's single write lock is released between batches and API requests are not starved.
- PostgreSQL: rows are stored *while* the file is checked, batch by batch from a worker thread, all in
  one transaction that is rolled back if a bad line turns up. The server's work (index maintenance and
  foreign-key checks, in its own process, so on the second core) then overlaps the parsing instead of
  following it; the server is the bottleneck there (bench/cdr_import.py, docs/benchmarks.md). A long
  transaction is harmless on PostgreSQL (MVCC: readers and other writers are not blocked).

Every call carries an idempotency key (``calls.external_id``), so re-running an import that crashed
half-way (on SQLite, after some batches were committed) stores the rest and nothing twice.

Imported calls produce no outbox events: they are history the integrator's systems have already seen
through Asterisk, and a million-row import would otherwise flood their callback endpoints with
months-old "call completed" notifications.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import IO, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ramal.carrier.asterisk import BadLine, CdrRecord, is_inbound_context, read_master_csv
from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.services.errors import InvalidInput, NotFound
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.call_import import CallTuple, FieldTuple, encode_time, insert_new_calls

DEFAULT_BATCH_SIZE = 20_000
SOURCE = "import"


class ImportProgress(Protocol):
    """Where an import reports how far it got (the CLI draws a progress bar)."""

    def start(self, phase: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ImportReport:
    records: int  # records read, good and bad
    bad_lines: tuple[BadLine, ...]  # skipped (only with skip_invalid)
    imported: int  # calls stored by this run
    already_present: int  # good records whose call was already stored (a re-run)


class InvalidCdrFile(InvalidInput):
    """The file has bad lines and the operator did not ask to skip them: nothing was stored."""

    def __init__(self, bad_lines: list[BadLine]) -> None:
        super().__init__(f"{len(bad_lines)} linha(s) invalida(s); nada foi importado")
        self.bad_lines = tuple(bad_lines)


@dataclass(frozen=True, slots=True)
class _Target:
    account_id: int
    pin_id: int
    numbers: frozenset[str]
    timezone: str


class CdrImportService:
    def __init__(
        self, database: Database, clock: Clock, ids: IdGenerator, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.batch_size = batch_size

    def import_asterisk_csv(
        self,
        path: Path,
        pin: str,
        *,
        timezone: str | None = None,
        gmt: bool = False,
        skip_invalid: bool = False,
        progress: ImportProgress | None = None,
    ) -> ImportReport:
        """Store the calls of an Asterisk ``Master.csv`` as calls of ``pin``.

        Times are read in ``timezone`` (default: the account's), or as GMT with ``gmt``. Raises
        :class:`InvalidCdrFile` if a line is bad (unless ``skip_invalid``), :class:`NotFound` for an
        unknown pin, :class:`InvalidInput` for an unreadable or empty file or an unknown zone.
        """
        if gmt and timezone:
            raise InvalidInput("Use --timezone ou --gmt, nao os dois")
        target = self._target(pin)
        zone = UTC if gmt else _zone(timezone or target.timezone)
        bad: list[BadLine] = []
        with _open(path) as stream:
            batches = self._batches(stream, zone, target, bad, progress)
            # Where the time goes differs per backend: see the module docstring.
            store = self._store_while_checking if self.database.is_postgresql else self._check_then_store
            rows, imported = store(stream, batches, bad, skip_invalid, path, progress)
        return ImportReport(rows + len(bad), tuple(bad), imported, rows - imported)

    # --- internals ---------------------------------------------------------------------------

    def _target(self, pin: str) -> _Target:
        with self.database.read() as connection:
            repo = AccountRepository(connection)
            pin_row = repo.get_pin(pin)
            if pin_row is None:
                raise NotFound(f"Pin {pin} nao encontrado")
            account = repo.get_account(pin_row.account_id)
            assert account is not None  # a pin always has its account (foreign key)
            numbers = frozenset(repo.numbers_of_pin(pin_row.id))
        return _Target(account.id, pin_row.id, numbers, account.timezone)

    def _check_then_store(
        self,
        stream: IO[bytes],
        batches: Iterator[_Batch],
        bad: list[BadLine],
        skip_invalid: bool,
        path: Path,
        progress: ImportProgress | None,
    ) -> tuple[int, int]:
        """Spool the whole checked file, then store it in batches of their own transactions (SQLite)."""
        with _Spool() as spool:
            _start(progress, "Verificando", stream)
            for calls, fields in batches:
                spool.write(calls, fields)
            _refuse_if_unusable(spool.rows, bad, skip_invalid, path)
            if progress:
                progress.start("Importando", spool.rows)
            imported = 0
            for calls, fields in spool.batches():
                with self.database.write() as connection:
                    imported += insert_new_calls(connection, calls, fields)
                if progress:
                    progress.advance(len(calls))
        return spool.rows, imported

    def _store_while_checking(
        self,
        stream: IO[bytes],
        batches: Iterator[_Batch],
        bad: list[BadLine],
        skip_invalid: bool,
        path: Path,
        progress: ImportProgress | None,
    ) -> tuple[int, int]:
        """Store each checked batch from a worker thread while the next one is parsed, in one
        transaction that a bad line (or any error) rolls back (PostgreSQL).

        The worker spends its time waiting for the server, with the GIL released, so parsing goes on.
        At most two batches wait for it, which bounds memory without a spool.
        """
        rows = imported = 0
        with self.database.write() as connection, ThreadPoolExecutor(1) as worker:
            _start(progress, "Importando", stream)
            pending: deque[Future[int]] = deque()
            for calls, fields in batches:
                rows += len(calls)
                if bad and not skip_invalid:
                    continue  # the file will be refused: only keep reading, to report every bad line
                pending.append(worker.submit(insert_new_calls, connection, calls, fields))
                if len(pending) > 2:
                    imported += pending.popleft().result()
            imported += sum(future.result() for future in pending)
            _refuse_if_unusable(rows, bad, skip_invalid, path)
        return rows, imported

    def _batches(
        self,
        stream: IO[bytes],
        zone: tzinfo,
        target: _Target,
        bad: list[BadLine],
        progress: ImportProgress | None,
    ) -> Iterator[_Batch]:
        """Parse every line, collect the bad ones, yield the good ones as ready-to-insert batches.

        Progress is reported in bytes of the file read.
        """
        created_at = encode_time(self.clock.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        to_rows = _RowBuilder(target, self.ids.call_id, created_at)
        calls: list[CallTuple] = []
        fields: list[FieldTuple] = []
        position = 0
        for item in read_master_csv(stream, zone):
            if isinstance(item, BadLine):
                bad.append(item)
                continue
            to_rows.add(item, calls, fields)
            if len(calls) >= self.batch_size:
                yield calls, fields
                calls, fields = [], []
                if progress:
                    position, previous = stream.tell(), position
                    progress.advance(position - previous)
        if calls:
            yield calls, fields
        if progress:
            progress.advance(stream.tell() - position)


_Batch = tuple[list[CallTuple], list[FieldTuple]]


def _start(progress: ImportProgress | None, phase: str, stream: IO[bytes]) -> None:
    """A phase measured in bytes of the file."""
    if progress:
        progress.start(phase, os.fstat(stream.fileno()).st_size)


def _refuse_if_unusable(rows: int, bad: list[BadLine], skip_invalid: bool, path: Path) -> None:
    if rows == 0 and not bad:
        raise InvalidInput(f"O arquivo {path.name} nao tem registros CDR")
    if bad and not skip_invalid:
        raise InvalidCdrFile(bad)


class _Spool:
    """Checked batches, kept on disk between the check and the store (a 1M-row file would take
    ~1 GB as Python tuples). Our own temporary file, written by this process: ``marshal`` is safe here
    and the fastest format for plain tuples of str/int/None."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
        self.rows = 0
        self.count = 0

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()

    def write(self, calls: list[CallTuple], fields: list[FieldTuple]) -> None:
        batch = marshal.dumps((calls, fields))
        self.file.write(len(batch).to_bytes(8, "little"))
        self.file.write(batch)
        self.rows += len(calls)
        self.count += 1

    def batches(self) -> Iterator[_Batch]:
        """Whole batches at a time: ``marshal.load`` on a file would read it object by object."""
        self.file.seek(0)
        for _ in range(self.count):
            size = int.from_bytes(self.file.read(8), "little")
            yield marshal.loads(self.file.read(size))  # noqa: S302


class _RowBuilder:
    """Turns a :class:`CdrRecord` into a ``calls`` tuple and its ``call_fields`` tuples (hot loop)."""

    def __init__(self, target: _Target, new_id: Callable[[], str], created_at: str) -> None:
        self.target = target
        self.new_id = new_id
        self.created_at = created_at
        self._inbound_contexts: dict[str, bool] = {}

    def direction(self, record: CdrRecord) -> str:
        """Inbound when the call reached one of the pin's numbers or entered by an inbound context."""
        if record.destination.lstrip("+") in self.target.numbers:
            return "inbound"
        inbound = self._inbound_contexts.get(record.context)
        if inbound is None:
            inbound = self._inbound_contexts[record.context] = is_inbound_context(record.context)
        return "inbound" if inbound else "outbound"

    def add(self, record: CdrRecord, calls: list[CallTuple], fields: list[FieldTuple]) -> None:
        target = self.target
        call_id = self.new_id()
        started_at = encode_time(record.started_at)
        answered_at = record.answered_at
        campos = record.campos
        calls.append(
            (
                call_id,
                target.account_id,
                target.pin_id,
                self.direction(record),
                record.origin,
                record.destination,
                record.status,
                False,
                False,
                SOURCE,
                record.key,
                self.created_at,
                started_at,
                None if answered_at is None else encode_time(answered_at),
                encode_time(record.ended_at),
                record.duration_seconds,
                record.billable_seconds,
                record.end_reason,
                orjson.dumps(campos).decode() if campos else None,
                0,
            )
        )
        for key, value in campos.items():
            fields.append((call_id, key, value, target.account_id, target.pin_id, started_at))


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InvalidInput(f"Arquivo {path} nao encontrado") from None
    except OSError as error:
        raise InvalidInput(f"Arquivo {path} ilegivel: {error.strerror}") from None


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Fuso horario invalido: {name}") from None
