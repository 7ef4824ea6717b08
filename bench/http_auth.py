"""Foundation benchmark: /request_token and an authenticated cheap endpoint vs a bare hello-world.

Starts, on this machine, (1) a bare Starlette app that parses a form and answers JSON the lean way
(the framework's ceiling, limits.md §1) and (2) `ramal serve` on a fresh SQLite file (and PostgreSQL
with --postgres), with the same uvicorn settings and worker count, then drives each with wrk and prints
requests/s, p50 and p99, and the ratio to the hello-world. Needs `wrk` (Debian package).

    python bench/http_auth.py [--workers 2] [--duration 10] [--connections 64] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

HELLO_APP = textwrap.dedent(
    """
    from urllib.parse import parse_qs
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def hello(request):
        form = parse_qs((await request.body()).decode())
        body = {"api": "hello", "modulo": "hello", "status": "ok", "codigo": "000", "msg": "OK",
                "fields": {k: v[0] for k, v in form.items()}}
        return Response(orjson.dumps(body), media_type="application/json")

    app = Starlette(routes=[Route("/hello", hello, methods=["POST"])])
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def wrk(url: str, body: str, duration: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method="POST"; wrk.body={json.dumps(body)}; '
            'wrk.headers["Content-Type"]="application/x-www-form-urlencoded"'
        )
    subprocess.run(["wrk", "-t2", "-c16", "-d2s", "-s", script.name, url], capture_output=True, check=True)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": float(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0.0,
    }


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def start(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_ramal(database_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    port = free_port()
    env = {**os.environ, "RAMAL_DATABASE_URL": database_url, "RAMAL_LOG_LEVEL": "WARNING"}
    ramal = [sys.executable, "-m", "ramal"]
    created = json.loads(
        subprocess.run(
            [*ramal, "account", "create", "Bench", "--json"],
            env=env,
            cwd=workdir,
            capture_output=True,
            check=True,
        ).stdout
    )
    server = start([*ramal, "serve", "--port", str(port), "--workers", str(args.workers)], env, workdir)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz")
        credentials = f"client_id={created['client_id']}&client_secret={created['client_secret']}"
        token = httpx.post(
            f"{base}/request_token",
            content=credentials,
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).json()["access_token"]
        return {
            "request_token": wrk(f"{base}/request_token", credentials, args.duration, args.connections),
            "token-info (authenticated)": wrk(
                f"{base}/ramal/token-info",
                f"access_token={token}&format=json",
                args.duration,
                args.connections,
            ),
        }
    finally:
        server.terminate()
        server.wait()


def run_hello(workdir: Path, args: argparse.Namespace) -> dict[str, float]:
    (workdir / "hello_app.py").write_text(HELLO_APP)
    port = free_port()
    server = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "hello_app:app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        dict(os.environ),
        workdir,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/hello")
        body = "access_token=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG&format=json"
        return wrk(f"http://127.0.0.1:{port}/hello", body, args.duration, args.connections)
    finally:
        server.terminate()
        server.wait()


def _figures(row: dict[str, float]) -> str:
    return f"{row['rps']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="ramal-bench-"))
    hello = run_hello(workdir, args)
    results = {"sqlite": run_ramal(f"sqlite:///{workdir / 'bench.db'}", workdir, args)}
    if args.postgres:
        from ramal.testing.databases import PostgresSchema

        schema = PostgresSchema(args.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            results["postgresql"] = run_ramal(
                schema.url.replace("postgresql+psycopg://", "postgresql://"), workdir, args
            )
        finally:
            schema.drop()
    print(f"uvicorn workers={args.workers}, wrk -t2 -c{args.connections} -d{args.duration}s")
    print(f"{'target':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs hello':>9}")
    print(f"{'bare starlette hello-world (lean)':42} {_figures(hello)}")
    for backend, rows in results.items():
        for name, row in rows.items():
            ratio = row["rps"] / hello["rps"]
            print(f"{backend + ' ' + name:42} {_figures(row)} {ratio:8.0%}")
            if row["non_2xx"]:
                print(f"  !! {row['non_2xx']:.0f} non-2xx responses")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
