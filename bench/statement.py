"""Statement benchmark: ``/extrato/list`` over real HTTP against the same SQL run raw, at millions of calls.

    flock /tmp/ramal-bench.lock .venv/bin/python bench/statement.py sqlite --calls 1000000
    flock /tmp/ramal-bench.lock .venv/bin/python bench/statement.py postgresql --calls 10000000

1. Seeds once with ``ramal dev seed`` (1 000 accounts; reused while ``bench/results/`` remembers the
   seed, ``--reseed`` to redo). PostgreSQL data lives in its own schema (``--schema``).
2. Starts ``ramal serve --no-workers`` (one process) on that database and authenticates as the
   seed's busiest pin.
3. For each case, sends ``--requests`` sequential keep-alive requests (after a warm-up), rotating
   days / CPFs / callerids, and measures p50 / p99. In the same run it captures the exact SQL the
   service issues for each request (COUNT + page) and measures two floors:

   - *raw SQL*: those statements replayed on a raw DBAPI connection (sqlite3 / psycopg), fetching
     every row, in this process: the issue's floor (its 1.5x target is the ratio to this one);
   - *bare HTTP*: the same statements served by bench/bare_sql_app.py, a bare Starlette app under the
     same uvicorn options, asked with the same request bodies by the same client over the same
     keep-alive: the least any HTTP endpoint answering that SQL costs, so the ratio to it is what
     ramal itself adds.
4. Saves the query plans (``bench/plans/statement-<backend>.txt``) and prints a Markdown table,
   plus the server's resident memory after each case (flat memory = pages only, never result sets).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import event, text

from bare_sql_app import replay  # both floors replay the captured SQL the same way
from ramal.api.extrato import (
    TIPO_FILTRO,
    read_criteria,
)  # the handler's parsing: raw SQL gets the same criteria
from ramal.clock import SystemClock
from ramal.services.principal import Principal
from ramal.services.statement import StatementService
from ramal.store.database import Database
from ramal.wire.dates import YMDHIS
from ramal.wire.params import build_params

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLANS = ROOT / "bench" / "plans"
PAGE_SIZE = 50  # RAMAL_STATEMENT_PAGE_SIZE default
VARIANTS = 20


@dataclass
class Case:
    name: str
    variants: list[dict[str, str]]
    path: str = "/extrato/list"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("backend", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=400, help="measured requests per case")
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--schema", default="bench_statement")
    args = parser.parse_args()

    RESULTS.mkdir(parents=True, exist_ok=True)
    url = database_url(args)
    seed = ensure_seed(args, url)
    print(f"# {args.backend}: {seed['calls']:,} calls, {seed['accounts']} accounts; busiest pin "
          f"{seed['pin']} has {seed['pin_calls']:,} calls; seeded at {seed['rows_per_second']:,} rows/s "
          f"({seed['rows']:,} rows, load+indexes {seed['load_seconds']} s)")  # fmt: skip
    database = Database.from_url(normalized(url))
    try:
        principal = busiest_principal(database, seed)
        cases = build_cases(database, principal, seed)
        ramal = start_ramal(url)
        try:
            token = httpx.post(
                f"{ramal.base_url}/request_token",
                data={"client_id": seed["client_id"], "client_secret": seed["client_secret"]},
            ).json()["access_token"]
            service = StatementService(database, SystemClock(), page_size=PAGE_SIZE, retention_days=90)
            captured = [
                [capture(database, service, principal, case, v) for v in case.variants] for case in cases
            ]
            statements = RESULTS / f"statement-{args.backend}-captured.pickle"
            statements.write_bytes(pickle.dumps([
                (case.path, form(token, variant), sent)
                for case, per_variant in zip(cases, captured, strict=True)
                for variant, sent in zip(case.variants, per_variant, strict=True)
            ]))  # fmt: skip
            bare = start_bare(url, statements)
            try:
                run(args, database, cases, captured, token, ramal, bare, seed)
            finally:
                bare.stop()
        finally:
            ramal.stop()
    finally:
        database.dispose()


# --- data ----------------------------------------------------------------------------------------


def database_url(args: argparse.Namespace) -> str:
    if args.backend == "sqlite":
        return f"sqlite:///{RESULTS / 'statement.db'}"
    return f"{args.postgres_url}?options={quote(f'-csearch_path={args.schema}')}"


def normalized(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def ensure_seed(args: argparse.Namespace, url: str) -> dict[str, Any]:
    state = RESULTS / f"statement-seed-{args.backend}.json"
    if state.exists() and not args.reseed:
        seed: dict[str, Any] = json.loads(state.read_text())
        if seed["calls"] == args.calls and seed["accounts"] == args.accounts:
            return seed
    if args.backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(RESULTS / "statement.db") + suffix).unlink(missing_ok=True)
    else:
        admin = Database.from_url(normalized(args.postgres_url))
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{args.schema}"'))
        admin.dispose()
    command = [sys.executable, "-m", "ramal", "dev", "seed", "--calls", str(args.calls),
               "--accounts", str(args.accounts), "--days", str(args.days), "--json"]  # fmt: skip
    done = subprocess.run(
        command, env={**os.environ, "RAMAL_DATABASE_URL": url}, stdout=subprocess.PIPE, check=True
    )
    seed = json.loads(done.stdout)
    state.write_text(json.dumps(seed, indent=2))
    return seed


def busiest_principal(database: Database, seed: dict[str, Any]) -> Principal:
    with database.read() as connection:
        row = connection.execute(
            text("SELECT p.id, p.account_id, a.timezone FROM pins p JOIN accounts a ON a.id = p.account_id "
                 "WHERE p.pin = :pin"),
            {"pin": seed["pin"]},
        ).one()  # fmt: skip
    return Principal(row.account_id, row.id, seed["pin"], True, ZoneInfo(row.timezone))


def build_cases(database: Database, principal: Principal, seed: dict[str, Any]) -> list[Case]:
    zone = principal.timezone
    end = datetime.strptime(seed["dataFinal"], YMDHIS)
    month = {"dataInicial": (end - timedelta(days=30)).strftime(YMDHIS), "dataFinal": seed["dataFinal"]}
    days = [end.date() - timedelta(days=n + 1) for n in range(VARIANTS)]
    one_day = [{"dataInicial": f"{d:%Y%m%d}000000", "dataFinal": f"{d:%Y%m%d}235959"} for d in days]
    since = (end - timedelta(days=30)).replace(tzinfo=zone)
    with database.read() as connection:
        cpfs = connection.execute(
            text("SELECT value FROM call_fields WHERE pin_id = :pin AND key = 'CPF' AND started_at >= :since "
                 "ORDER BY call_id LIMIT :n"),
            {"pin": principal.pin_id, "since": _naive_utc(since), "n": VARIANTS},
        ).scalars().all()  # fmt: skip
        callerids = (
            connection.execute(
                text(
                    "SELECT id FROM calls WHERE pin_id = :pin AND started_at >= :since ORDER BY id LIMIT :n"
                ),
                {"pin": principal.pin_id, "since": _naive_utc(since), "n": VARIANTS},
            )
            .scalars()
            .all()
        )
    return [
        Case("(a) one-day range", one_day),
        Case("(b) 30-day range, page 1", [month]),
        Case("(b) 30-day range, page 200", [{**month, "pagina": "200"}]),
        Case("(c) 30-day range, campos[CPF]", [{**month, "campos[CPF]": cpf} for cpf in cpfs]),
        Case("(d) callerid lookup", [{**month, "callerid": callerid} for callerid in callerids]),
        Case("(e) 30-day range, page 1, XML", [{**month, "formato": "XML"}]),
        Case("(extra) 30-day tipoFiltro=realizadas", [{**month, "tipoFiltro": "realizadas"}]),
        Case("(extra) 30-day list-recordings", [month], path="/extrato/list-recordings"),
    ]


def _naive_utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S.000000")


# --- the server ----------------------------------------------------------------------------------


def start_ramal(url: str) -> Server:
    port = free_port()
    env = {**os.environ, "RAMAL_DATABASE_URL": url, "RAMAL_PORT": str(port), "RAMAL_LOG_LEVEL": "WARNING",
           "RAMAL_DATA_DIR": str(RESULTS / "data"), "RAMAL_HTTP_WORKERS": "1"}  # fmt: skip
    return Server.start([sys.executable, "-m", "ramal", "serve", "--no-workers", "--no-migrate"], env, port)


def start_bare(url: str, statements: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        str(ROOT / "bench" / "bare_sql_app.py"),
        str(port),
        normalized(url),
        str(statements),
    ]
    return Server.start(command, dict(os.environ), port)


@dataclass
class Server:
    """A server subprocess on a local port, and one keep-alive client connection to it."""

    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, command: list[str], env: dict[str, str], port: int) -> Server:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        process.kill()
        raise SystemExit(f"{command[1]} did not start")

    def client(self) -> http.client.HTTPConnection:
        # http.client, not httpx: its per-request cost (~0.1 ms) keeps the client out of the figures.
        return http.client.HTTPConnection(self.base_url.removeprefix("http://"), timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- measuring -----------------------------------------------------------------------------------


def run(
    args: argparse.Namespace,
    database: Database,
    cases: list[Case],
    captured: list[list[list[tuple[str, Any]]]],
    token: str,
    ramal: Server,
    bare: Server,
    seed: dict[str, Any],
) -> None:
    raw = database.engine.raw_connection()
    raw.detach()
    plans: list[str] = []
    rows_out = [
        "| case | rows | HTTP p50 | HTTP p99 | raw SQL p50 | raw SQL p99 | p50 ratio | overhead "
        "| bare HTTP p50 | bare HTTP p99 | p50 ratio to bare | over bare | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, statements in zip(cases, captured, strict=True):
        plans.append(explain(database, raw, case, statements[0]))
        raw_times = measure(lambda i, sent=statements: replay(raw, sent[i % len(sent)]), args)
        bare_times, _ = measure_http(bare, case, token, args, answered=_bare_rows)
        http_times, rows_seen = measure_http(ramal, case, token, args, answered=_envelope_rows)
        line = row(case, rows_seen, http_times, raw_times, bare_times, rss_mb(ramal.process.pid))
        print(line, flush=True)
        rows_out.append(line)
    raw.close()
    PLANS.mkdir(parents=True, exist_ok=True)
    plan_file = PLANS / f"statement-{args.backend}.txt"
    plan_file.write_text(f"# {args.backend}, {seed['calls']:,} calls\n\n" + "\n\n".join(plans) + "\n")
    print("\n" + "\n".join(rows_out))
    (RESULTS / f"statement-{args.backend}.md").write_text("\n".join(rows_out) + "\n")
    print(f"\nplans saved to {plan_file.relative_to(ROOT)}")


def form(token: str, variant: dict[str, str]) -> str:
    """The request body of one variant: the same bytes go to ramal and to the bare app."""
    return urlencode({"access_token": token, **variant})


def measure_http(
    server: Server, case: Case, token: str, args: argparse.Namespace, *, answered: Callable[[bytes], int]
) -> tuple[list[float], list[int]]:
    """Sequential keep-alive POSTs of the case's variants; ``answered`` checks a body, counts its rows."""
    bodies = [form(token, variant) for variant in case.variants]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    client = server.client()  # a fresh connection: uvicorn drops one idle for 5 s (keep-alive)
    rows_seen: list[int] = []

    def request(i: int) -> None:
        client.request("POST", case.path, bodies[i % len(bodies)], headers)
        rows_seen.append(answered(client.getresponse().read()))

    try:
        return measure(request, args), rows_seen
    finally:
        client.close()


def _envelope_rows(body: bytes) -> int:
    if b"000" not in body[:200]:  # codigo comes early in both JSON and XML
        raise SystemExit(f"unexpected answer {body[:300]!r}")
    return body.count(b'"callerid"') + body.count(b"<callerid>")


def _bare_rows(body: bytes) -> int:
    if not body.startswith(b'{"rows":'):
        raise SystemExit(f"unexpected answer from the bare app {body[:300]!r}")
    return 0  # not counted: parsing the JSON would add the client's time to the floor


def capture(
    database: Database, service: StatementService, principal: Principal, case: Case, variant: dict[str, str]
) -> list[tuple[str, Any]]:
    """The SELECTs the service sends for these wire parameters, exactly as sent to the driver."""
    statements: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    criteria = read_criteria(build_params([list(variant.items())]), principal.timezone)
    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        service.calls(
            principal,
            criteria,
            TIPO_FILTRO[variant.get("tipoFiltro", "todas")],
            recorded_only=case.path.endswith("recordings"),
        )
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    return statements


def measure(action: Callable[[int], object], args: argparse.Namespace) -> list[float]:
    for i in range(args.warmup):
        action(i)
    times = []
    for i in range(args.requests):
        started = time.perf_counter()
        action(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def row(
    case: Case, rows_seen: list[int], http: list[float], raw: list[float], bare: list[float], rss: float
) -> str:
    h50, h99, r50, r99, b50, b99 = (
        percentile(times, fraction) for times in (http, raw, bare) for fraction in (0.5, 0.99)
    )
    rows = f"{min(rows_seen)}-{max(rows_seen)}" if min(rows_seen) != max(rows_seen) else str(rows_seen[0])
    return (f"| {case.name} | {rows} | {h50:.2f} ms | {h99:.2f} ms | {r50:.2f} ms | {r99:.2f} ms | "
            f"{h50 / r50:.2f}x | +{h50 - r50:.2f} ms | {b50:.2f} ms | {b99:.2f} ms | {h50 / b50:.2f}x | "
            f"{h50 - b50:+.2f} ms | {rss:.0f} MB |")  # fmt: skip


def explain(database: Database, raw: Any, case: Case, statements: list[tuple[str, Any]]) -> str:
    lines = [f"## {case.name}: {json.dumps(case.variants[0], ensure_ascii=False)}"]
    cursor = raw.cursor()
    for statement, parameters in statements:
        lines.append("\n" + " ".join(statement.split()))
        if database.is_postgresql:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines.extend("    " + r[0] for r in cursor.fetchall())
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            lines.extend(f"    {r[3]}" for r in cursor.fetchall())
    cursor.close()
    raw.commit()
    return "\n".join(lines)


if __name__ == "__main__":
    main()
