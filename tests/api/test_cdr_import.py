"""Importing Asterisk Master.csv files as calls, through the service and the CLI, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ramal.cli.main import app
from ramal.container import Container
from ramal.services import imports
from ramal.services.errors import InvalidInput, NotFound
from ramal.services.imports import CdrImportService, ImportReport, InvalidCdrFile
from ramal.store.repositories import call_import
from ramal.store.tables import call_fields, calls, events
from tests.cdr_lines import cdr_line
from tests.conftest import Account

SAMPLE = Path(__file__).parent.parent / "data" / "Master.csv"
runner = CliRunner()


def stored_calls(container: Container) -> list[Any]:
    with container.database.read() as connection:
        return list(connection.execute(select(calls).order_by(calls.c.started_at)).all())


def count(container: Container, table: Any) -> int:
    with container.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def write(tmp_path: Path, content: str | bytes, name: str = "Master.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_sample_imports_with_statuses_directions_times_and_campos(
    container: Container, account: Account
) -> None:
    report = container.imports.import_asterisk_csv(SAMPLE, account.pin)
    assert report == ImportReport(records=6, bad_lines=(), imported=6, already_present=0)
    rows = stored_calls(container)
    assert [(r.status, r.end_reason, r.direction) for r in rows] == [
        ("completed", "answered", "outbound"),
        ("busy", "busy", "outbound"),
        ("no_answer", "no_answer", "outbound"),
        ("completed", "answered", "inbound"),  # to the pin's number 554130600300, from-trunk
        ("failed", "failed", "outbound"),
        ("completed", "answered", "outbound"),
    ]
    first, busy, inbound = rows[0], rows[1], rows[3]
    # 09:15 in the account's zone (America/Sao_Paulo, UTC-3)
    assert (first.started_at, first.answered_at, first.ended_at) == (
        at("2026-11-02 12:15:00"),
        at("2026-11-02 12:15:07"),
        at("2026-11-02 12:17:07"),
    )
    assert (first.duration_seconds, first.billable_seconds) == (127, 120)
    assert (first.origin, first.destination) == ("1001", "554133149400")
    assert first.campos == {"CPF": "000.000.000-00"}
    assert (busy.answered_at, busy.billable_seconds, busy.campos) == (None, 0, None)
    assert (inbound.origin, inbound.destination) == ("5511987654321", "554130600300")
    assert inbound.campos == {"campanha": "black-friday"}
    assert [r.external_id for r in rows][:2] == ["1762074900.1", "1762075200.3"]
    assert {(r.source, r.account_id, r.record) for r in rows} == {("import", account.account_id, False)}
    assert all(uuid.UUID(r.id).version == 7 for r in rows)
    assert {r.created_at for r in rows} == {container.clock.now()}
    with container.database.read() as connection:
        fields = connection.execute(select(call_fields).order_by(call_fields.c.key)).all()
    assert [(f.call_id, f.key, f.value, f.started_at) for f in fields] == [
        (first.id, "CPF", "000.000.000-00", first.started_at),
        (inbound.id, "campanha", "black-friday", inbound.started_at),
    ]
    assert count(container, events) == 0  # history: no callbacks


def test_stored_times_match_what_sqlalchemy_queries_compare_against(
    container: Container, account: Account
) -> None:
    container.imports.import_asterisk_csv(SAMPLE, account.pin)
    with container.database.read() as connection:
        found = connection.execute(
            select(calls.c.external_id).where(calls.c.started_at == at("2026-11-02 12:15:00"))
        ).all()
        window = connection.execute(
            select(func.count())
            .select_from(calls)
            .where(
                calls.c.started_at >= at("2026-11-02 12:20:00"),
                calls.c.started_at < at("2026-11-02 14:05:10"),
            )
        ).scalar_one()
    assert found == [("1762074900.1",)]
    assert window == 2


def test_gmt_and_explicit_zones(container: Container, account: Account) -> None:
    container.imports.import_asterisk_csv(SAMPLE, account.pin, gmt=True)
    assert stored_calls(container)[0].started_at == at("2026-11-02 09:15:00")
    other = container.accounts.create_account("Other", numbers=["554130600301"])
    container.imports.import_asterisk_csv(SAMPLE, other.pin, timezone="Europe/Lisbon")
    lisbon = [r for r in stored_calls(container) if r.account_id == other.account_id]
    assert lisbon[0].started_at == at("2026-11-02 09:15:00")  # WET = UTC in November
    with pytest.raises(InvalidInput, match="Fuso horario invalido"):
        container.imports.import_asterisk_csv(SAMPLE, account.pin, timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="nao os dois"):
        container.imports.import_asterisk_csv(SAMPLE, account.pin, timezone="UTC", gmt=True)


def test_direction_by_pin_number_or_inbound_context(
    container: Container, account: Account, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        cdr_line(uniqueid="1", dst="554130600300", dcontext="from-internal")
        + cdr_line(uniqueid="2", dst="5541999990009", dcontext="from-pstn")
        + cdr_line(uniqueid="3", dst="5541999990009", dcontext="from-internal"),
    )
    container.imports.import_asterisk_csv(path, account.pin)
    by_key = {r.external_id: r.direction for r in stored_calls(container)}
    assert by_key == {"1": "inbound", "2": "inbound", "3": "outbound"}


def test_importing_the_same_file_twice_adds_nothing(container: Container, account: Account) -> None:
    container.imports.import_asterisk_csv(SAMPLE, account.pin)
    again = container.imports.import_asterisk_csv(SAMPLE, account.pin)
    assert (again.imported, again.already_present) == (0, 6)
    assert (count(container, calls), count(container, call_fields)) == (6, 2)


def test_rows_without_uniqueid_are_idempotent_too(
    container: Container, account: Account, tmp_path: Path
) -> None:
    path = write(tmp_path, cdr_line(16) + cdr_line(16, src="1002") + cdr_line(16))
    first = container.imports.import_asterisk_csv(path, account.pin)
    second = container.imports.import_asterisk_csv(path, account.pin)
    # the repeated identical line is one call
    assert (first.records, first.imported, first.already_present) == (3, 2, 1)
    assert (second.imported, count(container, calls)) == (0, 2)


def test_the_same_uniqueid_in_another_account_is_another_call(container: Container, account: Account) -> None:
    other = container.accounts.create_account("Other")
    container.imports.import_asterisk_csv(SAMPLE, account.pin)
    assert container.imports.import_asterisk_csv(SAMPLE, other.pin).imported == 6


def test_an_interrupted_import_completes_on_rerun_without_duplicates(
    container: Container, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = CdrImportService(container.database, container.clock, container.ids, batch_size=2)
    # SQLite stores batch by batch, PostgreSQL in one transaction.
    module, name = (
        (imports, "insert_new_calls") if container.database.is_postgresql else (call_import, "_insert_sqlite")
    )
    real_insert = getattr(module, name)
    batches = {"n": 0}

    def crash_on_third_batch(*args: Any) -> int:
        batches["n"] += 1
        if batches["n"] == 3:
            raise RuntimeError("power cut")
        return real_insert(*args)

    monkeypatch.setattr(module, name, crash_on_third_batch)
    with pytest.raises(RuntimeError):
        service.import_asterisk_csv(SAMPLE, account.pin)
    # SQLite commits batch by batch; PostgreSQL imports in one transaction, rolled back whole.
    stored = 0 if container.database.is_postgresql else 4
    assert count(container, calls) == stored
    monkeypatch.setattr(module, name, real_insert)
    report = service.import_asterisk_csv(SAMPLE, account.pin)
    assert (report.imported, report.already_present) == (6 - stored, stored)
    assert (count(container, calls), count(container, call_fields)) == (6, 2)


def test_foreign_keys_are_checked_again_after_an_import(container: Container, account: Account) -> None:
    """The SQLite store turns per-row foreign-key checks off on a connection of its own, never on the
    pool's."""
    container.imports.import_asterisk_csv(SAMPLE, account.pin)
    if container.database.is_postgresql:
        return
    held = [container.database.engine.raw_connection() for _ in range(3)]
    try:
        assert [raw.driver_connection.execute("PRAGMA foreign_keys").fetchone() for raw in held] == [(1,)] * 3
    finally:
        for raw in held:
            raw.close()


def test_a_batch_failing_inside_its_transaction_leaves_nothing_and_foreign_keys_on(
    container: Container, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    if container.database.is_postgresql:
        pytest.skip("SQLite's batch transactions")
    real_insert = call_import._insert_sqlite

    def insert_then_fail(*args: Any) -> int:
        real_insert(*args)
        raise RuntimeError("disk full")

    monkeypatch.setattr(call_import, "_insert_sqlite", insert_then_fail)
    with pytest.raises(RuntimeError):
        container.imports.import_asterisk_csv(SAMPLE, account.pin)
    assert (count(container, calls), count(container, call_fields)) == (0, 0)
    raw = container.database.engine.raw_connection()
    try:
        assert raw.driver_connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert not raw.driver_connection.in_transaction
    finally:
        raw.close()


MALFORMED = (
    cdr_line(uniqueid="1")
    + '"too","few","columns"\n'
    + cdr_line(uniqueid="3", start="2026-13-01 00:00:00")
    + cdr_line(uniqueid="4", duration="abc")
    + cdr_line(uniqueid="5", disposition="ANSWERED BY MACHINE")
    + cdr_line(uniqueid="6", clid="Jo\xe3o").replace("Jo\xe3o", "Jo\udce3o")
    + cdr_line(uniqueid="7")
)


def malformed_file(tmp_path: Path) -> Path:
    return write(tmp_path, MALFORMED.encode("utf-8", "surrogateescape"))


def test_malformed_lines_are_all_reported_and_nothing_is_imported(
    container: Container, account: Account, tmp_path: Path
) -> None:
    with pytest.raises(InvalidCdrFile) as raised:
        container.imports.import_asterisk_csv(malformed_file(tmp_path), account.pin)
    assert [(b.line, b.reason.split(":")[0]) for b in raised.value.bad_lines] == [
        (2, "3 colunas (esperado de 16 a 21)"),
        (3, "start invalido"),
        (4, "duration nao e um inteiro de segundos"),
        (5, "disposition desconhecida"),
        (6, "bytes que nao sao UTF-8 na coluna 50 (byte 0xe3)"),
    ]
    assert raised.value.detail == "5 linha(s) invalida(s); nada foi importado"
    assert count(container, calls) == 0


def test_a_bad_last_line_undoes_the_batches_already_stored(
    container: Container, account: Account, tmp_path: Path
) -> None:
    """On PostgreSQL batches are stored while the file is still being read: a late bad line must
    still leave nothing behind."""
    service = CdrImportService(container.database, container.clock, container.ids, batch_size=1)
    content = "".join(cdr_line(uniqueid=str(n)) for n in range(5)) + cdr_line(uniqueid="5", duration="x")
    with pytest.raises(InvalidCdrFile) as raised:
        service.import_asterisk_csv(write(tmp_path, content), account.pin)
    assert [b.line for b in raised.value.bad_lines] == [6]
    assert count(container, calls) == 0


def test_skip_invalid_imports_the_good_lines_and_reports_the_bad(
    container: Container, account: Account, tmp_path: Path
) -> None:
    report = container.imports.import_asterisk_csv(malformed_file(tmp_path), account.pin, skip_invalid=True)
    assert (report.records, report.imported) == (7, 2)
    assert [b.line for b in report.bad_lines] == [2, 3, 4, 5, 6]
    assert sorted(r.external_id for r in stored_calls(container)) == ["1", "7"]


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_an_empty_file_is_refused(
    container: Container, account: Account, tmp_path: Path, content: bytes
) -> None:
    with pytest.raises(InvalidInput, match="nao tem registros CDR"):
        container.imports.import_asterisk_csv(write(tmp_path, content), account.pin)


def test_unknown_pin_and_missing_file(container: Container, account: Account, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="Pin 00000000 nao encontrado"):
        container.imports.import_asterisk_csv(SAMPLE, "00000000")
    with pytest.raises(InvalidInput, match="nao encontrado"):
        container.imports.import_asterisk_csv(tmp_path / "missing.csv", account.pin)


def test_progress_is_reported_in_phases(container: Container, account: Account) -> None:
    seen: list[tuple[str, int]] = []

    class Recorder:
        def start(self, phase: str, total: int) -> None:
            seen.append((phase, total))

        def advance(self, amount: int) -> None:
            seen.append(("+", amount))

    container.imports.import_asterisk_csv(SAMPLE, account.pin, progress=Recorder())
    size = SAMPLE.stat().st_size
    if container.database.is_postgresql:  # stored while read: one phase, in bytes
        assert seen == [("Importando", size), ("+", size)]
    else:  # checked whole (bytes), then stored (rows)
        assert seen == [("Verificando", size), ("+", size), ("Importando", 6), ("+", 6)]


# --- checking in parallel parts (SQLite; PostgreSQL checks while it stores, in one process) -------


def parallel(container: Container, processes: int = 3) -> CdrImportService:
    """A service that splits even a tiny file into ``processes`` parts."""
    return CdrImportService(
        container.database, container.clock, container.ids, parallel_min_bytes=0, processes=processes
    )


def test_parts_number_repeated_uniqueids_in_file_order(
    container: Container, account: Account, tmp_path: Path
) -> None:
    lines = [cdr_line(uniqueid="dup" if n % 10 == 0 else f"u{n}") for n in range(30)]
    report = parallel(container).import_asterisk_csv(write(tmp_path, "".join(lines)), account.pin)
    assert (report.imported, report.already_present) == (30, 0)
    rows = stored_calls(container)
    assert sorted(r.external_id for r in rows if r.external_id.startswith("dup")) == ["dup", "dup#2", "dup#3"]
    ids = [r.id for r in sorted(rows, key=lambda r: int(r.external_id[1:]) if r.external_id[0] == "u" else 0)]
    assert len(set(ids)) == 30
    again = parallel(container, processes=2).import_asterisk_csv(write(tmp_path, "".join(lines)), account.pin)
    assert (again.imported, again.already_present) == (0, 30)


def test_parts_report_bad_lines_by_their_line_in_the_file(
    container: Container, account: Account, tmp_path: Path
) -> None:
    lines = [cdr_line(uniqueid=str(n)) for n in range(30)]
    lines[3] = cdr_line(uniqueid="3", duration="x")
    lines[26] = cdr_line(uniqueid="26", disposition="LOST")
    lines.insert(15, cdr_line(uniqueid="multi", userfield="nota=linha 1\nlinha 2"))
    with pytest.raises(InvalidCdrFile) as raised:
        parallel(container).import_asterisk_csv(write(tmp_path, "".join(lines)), account.pin)
    # the 27th record starts on line 29: a record before it spans two lines
    assert [b.line for b in raised.value.bad_lines] == [4, 29]
    assert count(container, calls) == 0


def test_a_quoted_newline_at_a_part_boundary_is_read_as_one_record(
    container: Container, account: Account, tmp_path: Path
) -> None:
    """The split point falls inside a 150-line quoted field: the part after it is re-checked from
    where that record really ends."""
    note = "\n".join(f"l{n}" for n in range(150))
    content = (
        "".join(cdr_line(uniqueid=f"a{n}") for n in range(5))
        + cdr_line(uniqueid="long", userfield=note)
        + "".join(cdr_line(uniqueid=f"b{n}") for n in range(5))
        + cdr_line(uniqueid="b5", duration="x")
    )
    with pytest.raises(InvalidCdrFile) as raised:
        parallel(container, processes=2).import_asterisk_csv(write(tmp_path, content), account.pin)
    assert [b.line for b in raised.value.bad_lines] == [5 + 150 + 5 + 1]
    report = parallel(container, processes=2).import_asterisk_csv(
        write(tmp_path, content), account.pin, skip_invalid=True
    )
    assert (report.records, report.imported) == (12, 11)
    (long,) = [r for r in stored_calls(container) if r.external_id == "long"]
    assert long.campos == {"userfield": note}


def test_an_unclosed_quote_swallows_the_following_parts(
    container: Container, account: Account, tmp_path: Path
) -> None:
    """A quote opened on line 4 and never closed makes the rest of the file one broken record, even
    where other parts, read on their own, saw lines of 3 columns."""
    content = (
        "".join(cdr_line(uniqueid=str(n)) for n in range(3)) + '"acme","1001","unclosed\n' + "1,2,3\n" * 60
    )
    with pytest.raises(InvalidCdrFile) as raised:
        parallel(container).import_asterisk_csv(write(tmp_path, content), account.pin)
    assert [(b.line, b.reason.split(":")[0]) for b in raised.value.bad_lines] == [(4, "CSV malformado")]


def test_parallel_progress_adds_up_to_the_file(
    container: Container, account: Account, tmp_path: Path
) -> None:
    path = write(tmp_path, "".join(cdr_line(uniqueid=str(n)) for n in range(40)))
    seen: dict[str, int] = {}
    phases: list[tuple[str, int]] = []

    class Recorder:
        def start(self, phase: str, total: int) -> None:
            phases.append((phase, total))
            seen[phase] = 0

        def advance(self, amount: int) -> None:
            seen[phases[-1][0]] += amount

    parallel(container).import_asterisk_csv(path, account.pin, progress=Recorder())
    if not container.database.is_postgresql:
        assert phases == [("Verificando", path.stat().st_size), ("Importando", 40)]
        assert seen == {"Verificando": path.stat().st_size, "Importando": 40}


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RAMAL_DATABASE_URL", database_url)
    return database_url


def cli_pin(number: str = "554130600300") -> str:
    result = runner.invoke(app, ["account", "create", "Acme", "--number", number, "--json"])
    assert result.exit_code == 0, result.output
    return str(orjson.loads(result.stdout)["pin"])


def test_cli_imports_then_reimports_nothing(env: str) -> None:
    pin = cli_pin()
    first = runner.invoke(app, ["import", "asterisk-csv", str(SAMPLE), "--pin", pin])
    assert first.exit_code == 0, first.output
    assert "6 chamada(s) importada(s), 0 ja existente(s)" in " ".join(first.output.split())
    second = runner.invoke(app, ["import", "asterisk-csv", str(SAMPLE), "--pin", pin, "--gmt"])
    assert second.exit_code == 0, second.output
    assert "0 chamada(s) importada(s), 6 ja existente(s)" in " ".join(second.output.split())


def test_cli_reports_bad_lines_and_exits_non_zero(env: str, tmp_path: Path) -> None:
    pin = cli_pin()
    result = runner.invoke(app, ["import", "asterisk-csv", str(malformed_file(tmp_path)), "--pin", pin])
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    for line in (2, 3, 4, 5, 6):
        assert f"linha {line}:" in output
    assert "5 linha(s) invalida(s); nada foi importado" in output
    assert "Traceback" not in result.output
    skipped = runner.invoke(
        app, ["import", "asterisk-csv", str(malformed_file(tmp_path)), "--pin", pin, "--skip-invalid"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "2 chamada(s) importada(s)" in " ".join(skipped.output.split())
    assert "linha 6:" in skipped.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pin", "00000000"], "Pin 00000000 nao encontrado"),
        (["--timezone", "Mars/Olympus"], "Fuso horario invalido"),
    ],
)
def test_cli_operator_errors_are_clear(env: str, args: list[str], message: str) -> None:
    pin = cli_pin()
    full = ["import", "asterisk-csv", str(SAMPLE), "--pin", pin, *args]
    result = runner.invoke(app, full)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_empty_file(env: str, tmp_path: Path) -> None:
    pin = cli_pin()
    result = runner.invoke(app, ["import", "asterisk-csv", str(write(tmp_path, b"")), "--pin", pin])
    assert result.exit_code == 1
    assert "nao tem registros CDR" in result.output
