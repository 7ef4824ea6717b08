"""Traffic benchmark: `/voz/call` requests accepted per second over real HTTP.

Starts `ramal serve` (embedded simulator on, as an operator runs it) on a fresh SQLite file and, with
--postgres, on a fresh PostgreSQL schema; drives `/voz/call` (destination, gravar, two campos) with
wrk and prints accepted calls/s, p50 and p99. "Accepted" is counted in the database afterwards (every
answer is HTTP 200, errors included, so wrk's count alone would not prove acceptance). Needs `wrk`.

    python bench/calls.py [--workers 1] [--duration 10] [--connections 64] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from http_auth import free_port, wait_ready, wrk  # same directory: the foundation bench's helpers
from ramal.testing.databases import PostgresSchema

BODY = (
    "access_token={token}&origem=554130600300&destino=5541999991234&gravar=s"
    "&campos%5BCPF%5D=000.000.000-00&campos%5Bnome%5D=Jo%C3%A3o+da+Silva&format=json"
)


def run(database_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        "RAMAL_DATABASE_URL": database_url,
        "RAMAL_LOG_LEVEL": "WARNING",
        "RAMAL_DATA_DIR": str(workdir / "data"),
        "RAMAL_EMBEDDED_WORKERS": "false" if args.no_simulator else "true",
    }
    ramal = [sys.executable, "-m", "ramal"]
    created = json.loads(
        subprocess.run(
            [*ramal, "account", "create", "Bench", "--number", "554130600300", "--json"],
            env=env,
            cwd=workdir,
            capture_output=True,
            check=True,
        ).stdout
    )
    server = subprocess.Popen(
        [*ramal, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz")
        token = httpx.post(
            f"{base}/request_token",
            data={"client_id": created["client_id"], "client_secret": created["client_secret"]},
        ).json()["access_token"]
        probe = httpx.post(f"{base}/voz/call", content=BODY.format(token=token), headers=_FORM).json()
        assert probe["codigo"] == "000", probe
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        before = _calls(engine)
        figures = wrk(f"{base}/voz/call", BODY.format(token=token), args.duration, args.connections)
        # wrk's own 2 s warm-up run also placed calls; count everything it placed, over both runs
        figures["accepted"] = _calls(engine) - before
        figures["accepted_per_s"] = figures["accepted"] / (args.duration + 2)
        engine.dispose()
        return figures
    finally:
        server.terminate()
        server.wait()


_FORM = {"content-type": "application/x-www-form-urlencoded"}


def _calls(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(text("SELECT count(*) FROM calls")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--no-simulator", action="store_true", help="serve without the embedded loops")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="ramal-bench-calls-"))
    results = {"sqlite": run(f"sqlite:///{workdir / 'bench.db'}", workdir, args)}
    if args.postgres:
        schema = PostgresSchema(args.postgres_url)
        try:
            results["postgresql"] = run(
                schema.url.replace("postgresql+psycopg://", "postgresql://"), workdir, args
            )
        finally:
            schema.drop()
    loops = "off" if args.no_simulator else "on"
    load = f"wrk -t2 -c{args.connections} -d{args.duration}s"
    print(f"/voz/call, uvicorn workers={args.workers}, simulator {loops}, {load}")
    print(f"{'backend':12} {'req/s':>9} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for backend, row in results.items():
        rate = f"{row['rps']:9.0f} {row['accepted_per_s']:11.0f}"
        print(f"{backend:12} {rate} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
