"""Importing the call records an operator already has (Asterisk ``Master.csv``) as calls of one pin.

An import never leaves a file half-read: every line is parsed and checked (every bad line is reported
with its number), and nothing is stored if any line is bad unless the operator asks to skip them. How
that is guaranteed depends on the backend, because on each one a different resource is the bottleneck:

- SQLite: the whole file is checked first, in parts on every core (parsing is CPU-bound Python; see
  :func:`_check_parts` for how parts stay exact), and the ready-to-insert rows are spooled to
  temporary files (re-parsing would double the CPU cost), then stored in large batches, each its own
  transaction, so the database's single write lock is released between batches and API requests are
  not starved.
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

import gc
import marshal
import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import IO, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from ramal.carrier.asterisk import BadLine, CdrReader, CdrRecord, is_inbound_context, renumbered_keys
from ramal.clock import Clock
from ramal.ids import IdGenerator
from ramal.services.errors import InvalidInput, NotFound
from ramal.store.database import Database
from ramal.store.repositories.accounts import AccountRepository
from ramal.store.repositories.call_import import (
    CALL_COLUMNS,
    CallRow,
    FieldRow,
    encode_time,
    insert_new_calls,
    sqlite_batch_store,
)

DEFAULT_BATCH_SIZE = 20_000
# Below this a file is checked in this process alone: starting a second one costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
SOURCE = "import"
_KEY = CALL_COLUMNS.index("external_id")


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
        self,
        database: Database,
        clock: Clock,
        ids: IdGenerator,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        parallel_min_bytes: int = PARALLEL_MIN_BYTES,
        processes: int | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.ids = ids
        self.batch_size = batch_size
        self.parallel_min_bytes = parallel_min_bytes
        self.processes = processes or min(os.cpu_count() or 1, _MAX_PROCESSES)

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
        created_at = encode_time(self.clock.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        part = _Part(str(path), 0, None, zone, target, created_at, self.batch_size, "")
        with _open(path) as stream, _cyclic_gc_paused():
            size = os.fstat(stream.fileno()).st_size
            # Where the time goes differs per backend: see the module docstring.
            if self.database.is_postgresql:
                rows, imported, bad = self._store_while_checking(stream, size, part, skip_invalid, progress)
            else:
                starts = _record_starts(stream, size, self._processes(size))
                rows, imported, bad = self._check_then_store(starts, size, part, skip_invalid, progress)
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

    def _processes(self, size: int) -> int:
        return self.processes if size >= self.parallel_min_bytes else 1

    def _check_then_store(
        self,
        starts: list[int],
        size: int,
        part: _Part,
        skip_invalid: bool,
        progress: ImportProgress | None,
    ) -> tuple[int, int, list[BadLine]]:
        """Check the whole file, in parallel parts, spooling ready rows; then store them in batches of
        their own transactions (SQLite)."""
        with tempfile.TemporaryDirectory(prefix="ramal-import-") as directory:
            if progress:
                progress.start("Verificando", size)
            parts = [
                replace(part, start=start, stop=stop, spool=f"{directory}/{index}")
                for index, (start, stop) in enumerate(zip(starts, [*starts[1:], None], strict=True))
            ]
            checked = _check_parts(parts, progress)
            bad = _bad_lines(checked)
            rows = sum(result.rows for result in checked)
            _refuse_if_unusable(rows, bad, skip_invalid, Path(part.path))
            if progress:
                progress.start("Importando", rows)
            imported = 0
            with sqlite_batch_store(self.database) as store:
                for calls, fields in _stored_rows(checked):
                    imported += store(calls, fields, self.ids.call_id)
                    if progress:
                        progress.advance(len(calls))
        return rows, imported, bad

    def _store_while_checking(
        self,
        stream: IO[bytes],
        size: int,
        part: _Part,
        skip_invalid: bool,
        progress: ImportProgress | None,
    ) -> tuple[int, int, list[BadLine]]:
        """Store each checked batch from a worker thread while the next one is parsed, in one
        transaction that a bad line (or any error) rolls back (PostgreSQL).

        The worker spends its time waiting for the server, with the GIL released, so parsing goes on.
        At most two batches wait for it, which bounds memory without a spool.
        """
        rows = imported = 0
        bad: list[BadLine] = []
        if progress:
            progress.start("Importando", size)
        reader = CdrReader(stream, part.zone)
        with self.database.write() as connection, ThreadPoolExecutor(1) as worker:
            pending: deque[Future[int]] = deque()
            for calls, fields in _checked_batches(reader, part, bad, progress.advance if progress else None):
                rows += len(calls)
                if bad and not skip_invalid:
                    continue  # the file will be refused: only keep reading, to report every bad line
                pending.append(worker.submit(insert_new_calls, connection, calls, fields, self.ids.call_id))
                if len(pending) > 2:
                    imported += pending.popleft().result()
            imported += sum(future.result() for future in pending)
            _refuse_if_unusable(rows, bad, skip_invalid, Path(part.path))
        return rows, imported, bad


_Batch = tuple[list[CallRow], list[FieldRow]]
_MAX_PROCESSES = 4


@dataclass(frozen=True, slots=True)
class _Part:
    """A byte range of the file to check, and where to spool its rows (picklable: it goes to a worker
    process)."""

    path: str
    start: int  # a line start
    stop: int | None  # the next part's start; None: the end of the file
    zone: tzinfo
    target: _Target
    created_at: str
    batch_size: int
    spool: str


@dataclass(frozen=True, slots=True)
class _Checked:
    """What checking a part found; line numbers in ``bad`` count from the part's first line."""

    part: _Part
    end: int  # where its last record ends: the next part is valid only if it starts there
    lines: int
    rows: int
    bad: list[BadLine]
    key_counts: dict[str, int]


def _record_starts(stream: IO[bytes], size: int, count: int) -> list[int]:
    """Where ``count`` parts of about equal size start: each at the line after an even split point.

    A line start is a record start unless a quoted field spans lines there; checking finds out
    (:attr:`_Checked.end`) and :func:`_check_parts` then re-checks the part from the right place.
    """
    starts = [0]
    for index in range(1, count):
        stream.seek(size * index // count)
        stream.readline()
        if starts[-1] < stream.tell() < size:
            starts.append(stream.tell())
    stream.seek(0)
    return starts


def _check_parts(parts: list[_Part], progress: ImportProgress | None) -> list[_Checked]:
    """Check the first part here and the others in worker processes (the check is CPU-bound Python),
    then re-check, here, any part that did not start where the one before it ended."""
    if len(parts) == 1:
        return [_check_part(parts[0], progress.advance if progress else None)]
    context = multiprocessing.get_context()
    done_elsewhere: Synchronized[int] = context.Value("q", 0)
    shared = _SharedProgress(progress, done_elsewhere)
    with ProcessPoolExecutor(
        len(parts) - 1, mp_context=context, initializer=_init_worker, initargs=(done_elsewhere,)
    ) as pool:
        futures = [pool.submit(_check_part_in_worker, part) for part in parts[1:]]
        checked = [_check_part(parts[0], shared.advance)]
        while wait(futures, timeout=0.25, return_when=FIRST_EXCEPTION).not_done:
            shared.advance(0)
        checked += [future.result() for future in futures]
    shared.advance(0)
    for index in range(1, len(checked)):
        if checked[index].part.start != checked[index - 1].end:
            realigned = replace(checked[index].part, start=checked[index - 1].end)
            checked[index] = _check_part(realigned, None)
    return checked


def _check_part(part: _Part, advance: Callable[[int], None] | None) -> _Checked:
    """Check one part, spooling its ready rows to ``part.spool``."""
    bad: list[BadLine] = []
    with open(part.path, "rb") as stream, _Spool(part.spool) as spool:
        stream.seek(part.start)
        reader = CdrReader(stream, part.zone, stop=part.stop)
        for calls, fields in _checked_batches(reader, part, bad, advance):
            spool.write(calls, fields)
    return _Checked(part, reader.end, reader.lines, spool.rows, bad, reader.keys.counts)


_worker_progress: Synchronized[int] | None = None


def _init_worker(done: Synchronized[int]) -> None:
    global _worker_progress
    _worker_progress = done


def _check_part_in_worker(part: _Part) -> _Checked:
    def advance(amount: int) -> None:
        assert _worker_progress is not None
        with _worker_progress.get_lock():
            _worker_progress.value += amount

    return _check_part(part, advance)


class _SharedProgress:
    """This process's progress plus the workers' (a shared counter of bytes checked)."""

    def __init__(self, progress: ImportProgress | None, done_elsewhere: Synchronized[int]) -> None:
        self.progress = progress
        self.done_elsewhere = done_elsewhere
        self.reported_elsewhere = 0

    def advance(self, amount: int) -> None:
        if self.progress is None:
            return
        elsewhere = self.done_elsewhere.value
        self.progress.advance(amount + elsewhere - self.reported_elsewhere)
        self.reported_elsewhere = elsewhere


def _checked_batches(
    reader: CdrReader, part: _Part, bad: list[BadLine], advance: Callable[[int], None] | None
) -> Iterator[_Batch]:
    """Parse every line, collect the bad ones, yield the good ones as batches of rows to insert
    (without call ids: see :func:`_stored_rows`). Progress is reported in bytes of the file read."""
    to_rows = _RowBuilder(part.target, part.created_at)
    calls: list[CallRow] = []
    fields: list[FieldRow] = []
    position = reader.end
    for item in reader:
        if isinstance(item, BadLine):
            bad.append(item)
            continue
        to_rows.add(item, calls, fields)
        if len(calls) >= part.batch_size:
            yield calls, fields
            calls, fields = [], []
            if advance:
                position, previous = reader.end, position
                advance(position - previous)
    if calls:
        yield calls, fields
    if advance:
        advance(reader.end - position)


def _bad_lines(checked: list[_Checked]) -> list[BadLine]:
    """Every part's bad lines, numbered from the start of the file."""
    bad: list[BadLine] = []
    lines_before = 0
    for result in checked:
        bad += [BadLine(line.line + lines_before, line.reason) for line in result.bad]
        lines_before += result.lines
    return bad


def _stored_rows(checked: list[_Checked]) -> Iterator[_Batch]:
    """The spooled batches in file order, with their final keys.

    Call ids are made only when rows are stored (store/repositories/call_import.py), in this process
    and in file order: ids made by several checking processes would interleave (UUIDv7 is
    time-ordered), scattering inserts into the primary-key index, and an injected id generator must
    not be copied into another process.
    """
    key_counts: dict[str, int] = {}
    for result in checked:
        renamed = renumbered_keys(key_counts, result.key_counts)
        for calls, fields in _Spool.batches(result.part.spool):
            if renamed:
                _rename_keys(calls, renamed)
            yield calls, fields


def _rename_keys(calls: list[CallRow], renamed: dict[str, str]) -> None:
    for row in calls:
        row[_KEY] = renamed.get(row[_KEY], row[_KEY])


def _refuse_if_unusable(rows: int, bad: list[BadLine], skip_invalid: bool, path: Path) -> None:
    if rows == 0 and not bad:
        raise InvalidInput(f"O arquivo {path.name} nao tem registros CDR")
    if bad and not skip_invalid:
        raise InvalidCdrFile(bad)


class _Spool:
    """Checked batches, kept on disk between the check and the store (a 1M-row file would take
    ~1 GB as Python lists) and passed from the worker processes that checked them. Our own temporary
    files, written by this import: ``marshal`` is safe here and the fastest format for plain lists of
    str/int/None."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "wb")  # noqa: SIM115 (closed by __exit__)
        self.rows = 0

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.file.close()

    def write(self, calls: list[CallRow], fields: list[FieldRow]) -> None:
        batch = marshal.dumps((calls, fields))
        self.file.write(len(batch).to_bytes(8, "little"))
        self.file.write(batch)
        self.rows += len(calls)

    @staticmethod
    def batches(path: str) -> Iterator[_Batch]:
        """Whole batches at a time: ``marshal.load`` on a file would read it object by object."""
        with open(path, "rb") as file:
            while size := int.from_bytes(file.read(8), "little"):
                yield marshal.loads(file.read(size))  # noqa: S302


class _RowBuilder:
    """Turns a :class:`CdrRecord` into a ``calls`` row and its ``call_fields`` rows (hot loop)."""

    def __init__(self, target: _Target, created_at: str) -> None:
        self.target = target
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

    def add(self, record: CdrRecord, calls: list[CallRow], fields: list[FieldRow]) -> None:
        """Booleans are written as 0/1 (how both backends take them): a ``bool`` makes the sqlite3
        module try its adapters and raise and catch an AttributeError for every value."""
        target = self.target
        started_at = encode_time(record.started_at)
        answered_at = record.answered_at
        campos = record.campos
        index = len(calls)
        calls.append(
            [
                None,  # id, see _stored_rows
                target.account_id,
                target.pin_id,
                self.direction(record),
                record.origin,
                record.destination,
                record.status,
                0,
                0,
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
            ]
        )
        for key, value in campos.items():
            fields.append([index, key, value, target.account_id, target.pin_id, started_at])


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """An import makes millions of short-lived lists (rows; lists, unlike tuples of plain values,
    stay tracked by the cyclic GC) and no reference cycles, so the GC only traverses them: ~9 % of
    the CPU time of a 1M-row import (perf). Worker processes forked meanwhile inherit the pause."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
