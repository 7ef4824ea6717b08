"""Asterisk Master.csv import rate on SQLite and PostgreSQL (targets: 50,000 and 30,000 rows/s).

Generates a realistic N-row file (default 1,000,000: 60 % answered, 30 % inbound, 30 % with a
``K=V;K2=V2`` userfield, names with commas and quotes in ``clid``, commas in ``lastdata``), imports it
into a fresh database on each backend, then imports it again to show the re-run adds nothing. Also
prints how long the bare ``csv`` module takes to read the file, as a yardstick for how loaded the
(shared) machine was during the run.

    flock /tmp/ramal-bench.lock .venv/bin/python bench/cdr_import.py [--rows N] [--backends sqlite,postgresql]
        [--csv PATH]  (keeps the generated file, so later runs skip generating it)
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from ramal.clock import SystemClock
from ramal.ids import RandomIds
from ramal.services.accounts import AccountService
from ramal.services.imports import DEFAULT_BATCH_SIZE, CdrImportService
from ramal.store.database import Database
from ramal.store.migrations import upgrade
from ramal.testing.databases import DEFAULT_POSTGRES_URL, PostgresSchema

PIN_NUMBER = "554130600300"
DISPOSITIONS = ["ANSWERED"] * 60 + ["NO ANSWER"] * 20 + ["BUSY"] * 10 + ["FAILED"] * 8 + ["CONGESTION"] * 2
NAMES = ["Joao da Silva", "Maria", "Ana, Vendas", 'Pedro "PJ" Souza', "Suporte"]


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` CDRs the way Asterisk's cdr_csv does (18 columns, uniqueid and userfield)."""
    rng = random.Random(seed)
    moment = datetime(2026, 10, 1, 8, 0, 0)
    with path.open("w", encoding="utf-8", newline="") as out:
        for i in range(rows):
            moment += timedelta(seconds=rng.randint(0, 5))
            disposition = rng.choice(DISPOSITIONS)
            extension = str(1001 + rng.randrange(50))
            outside = f"55419{rng.randrange(10**8):08d}"
            if rng.random() < 0.3:
                src, dst, context, app_data = outside, PIN_NUMBER, "from-trunk", f"SIP/{extension},20"
                clid = f'"{outside}" <{outside}>'
            else:
                src, dst, context, app_data = (
                    extension,
                    outside,
                    "from-internal",
                    f"SIP/trunk/{outside},60,tT",
                )
                clid = f'"{rng.choice(NAMES)}" <{extension}>'
            ring = timedelta(seconds=rng.randint(1, 25))
            if disposition == "ANSWERED":
                talk = rng.randint(5, 600)
                answer = quoted((moment + ring).isoformat(" "))
                end = moment + ring + timedelta(seconds=talk)
            else:
                talk, answer, end = 0, "", moment + ring
            userfield = (
                f"campanha=c{rng.randrange(100)};agente=a{rng.randrange(500)}" if rng.random() < 0.3 else ""
            )
            fields = [
                quoted("acme"),
                quoted(src),
                quoted(dst),
                quoted(context),
                quoted(clid),
                quoted(f"SIP/{extension}-{i:08x}"),
                quoted(f"SIP/trunk-{i + 1:08x}"),
                quoted("Dial"),
                quoted(app_data),
                quoted(moment.isoformat(" ")),
                answer,
                quoted(end.isoformat(" ")),
                str(int((end - moment).total_seconds())),
                str(talk),
                quoted(disposition),
                quoted("DOCUMENTATION"),
                quoted(f"{int(moment.timestamp())}.{i}"),
                quoted(userfield),
            ]
            out.write(",".join(fields) + "\n")


def csv_yardstick(path: Path) -> float:
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as stream:
        for _ in csv.reader(stream):
            pass
    return time.perf_counter() - started


class PhaseClock:
    """The import's progress phases, timed: wall and this process's CPU seconds per phase."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: list[tuple[str, float, float]] = []  # name, wall start, CPU start

    def start(self, phase: str, total: int) -> None:
        self.phases.append((phase, time.perf_counter(), time.process_time()))

    def advance(self, amount: int) -> None:
        pass

    def stop(self) -> float:
        self.phases.append(("", time.perf_counter(), time.process_time()))
        return time.perf_counter() - self.started

    def __str__(self) -> str:
        return ", ".join(
            f"{name}: {end - start:.1f} s wall, {cpu_end - cpu:.1f} s CPU here"
            for (name, start, cpu), (_, end, cpu_end) in zip(self.phases, self.phases[1:], strict=False)
        )


def run(backend: str, url: str, path: Path, rows: int, batch_size: int) -> None:
    database = Database.from_url(url)
    upgrade(database.engine)
    clock, ids = SystemClock(), RandomIds()
    pin = (
        AccountService(database, clock, ids, "America/Sao_Paulo")
        .create_account("Bench", numbers=[PIN_NUMBER])
        .pin
    )
    importer = CdrImportService(database, clock, ids, batch_size=batch_size)
    try:
        for attempt in ("first import", "same file again"):
            phases = PhaseClock()
            report = importer.import_asterisk_csv(path, pin, progress=phases)
            elapsed = phases.stop()
            print(
                f"{backend:<10} {attempt:<16} {rows / elapsed:>9,.0f} rows/s  {elapsed:6.1f} s  "
                f"imported {report.imported:,}  already present {report.already_present:,}  "
                f"[{phases}]",
                flush=True,
            )
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--csv", type=Path, help="keep the generated file here, reuse it if there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ramal-cdr-bench-") as directory:
        path = args.csv or Path(directory) / "Master.csv"
        if not path.exists():
            generate(path, args.rows)
        size = path.stat().st_size / 1e6
        print(f"{args.rows:,} rows, {size:.0f} MB; csv.reader alone: {csv_yardstick(path):.1f} s")
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run(backend, f"sqlite:///{directory}/bench.db", path, args.rows, args.batch_size)
            else:
                schema = PostgresSchema(args.postgres_url)
                try:
                    run(backend, schema.url, path, args.rows, args.batch_size)
                finally:
                    schema.drop()


if __name__ == "__main__":
    main()
