"""How many ``/sms/send`` requests per second a real ``ramal serve`` accepts (one recipient each).

Starts its own server on a free 127.0.0.1 port (SQLite in a temp dir unless --database-url), creates an
account with the CLI, then keeps ``--concurrency`` aiohttp requests in flight for ``--seconds``.
The embedded simulator runs too (sandbox speed 1), as in a default install.

    flock /tmp/ramal-bench.lock .venv/bin/python bench/sms_send.py [--database-url URL] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], port: int, workers: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / "serve.log").open("wb")
    command = [sys.executable, "-m", "ramal", "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start: {(workdir / 'serve.log').read_text()}")


async def load(url: str, token: str, seconds: float, concurrency: int) -> tuple[int, int, list[float]]:
    ok = errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker(n: int) -> None:
            nonlocal ok, errors
            i = 0
            while time.monotonic() < deadline:
                i += 1
                data = {
                    "access_token": token,
                    "origem": "554130600300",
                    "destino": f"55419{n:04d}{i % 10000:04d}",
                    "texto": "Sua consulta foi confirmada para amanha as 10h.",
                    "campos[pedido]": str(i),
                }
                started = time.perf_counter()
                async with session.post(f"{url}/sms/send", data=data) as response:
                    body = orjson.loads(await response.read())
                latencies.append(time.perf_counter() - started)
                if body["codigo"] == "000":
                    ok += 1
                else:
                    errors += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return ok, errors, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        workdir = Path(temp)
        port = free_port()
        env = {
            **os.environ,
            "RAMAL_DATABASE_URL": args.database_url or f"sqlite:///{workdir}/bench.db",
            "RAMAL_DATA_DIR": str(workdir / "data"),
            "RAMAL_LOG_LEVEL": "WARNING",
        }
        created = orjson.loads(
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ramal",
                    "account",
                    "create",
                    "Bench",
                    "--number",
                    "554130600300",
                    "--json",
                ],
                env=env,
                capture_output=True,
                check=True,
            ).stdout
        )
        process = start(env, port, args.workers, workdir)
        try:
            url = f"http://127.0.0.1:{port}"

            async def token() -> str:
                async with aiohttp.ClientSession() as session:
                    data = {"client_id": created["client_id"], "client_secret": created["client_secret"]}
                    async with session.post(f"{url}/request_token", data=data) as response:
                        return str(orjson.loads(await response.read())["access_token"])

            access = asyncio.run(token())
            ok, errors, latencies = asyncio.run(load(url, access, args.seconds, args.concurrency))
        finally:
            process.terminate()
            process.wait(timeout=10)
    latencies.sort()
    backend = (args.database_url or "sqlite").split(":")[0]
    print(
        f"/sms/send {backend} workers={args.workers} concurrency={args.concurrency}: "
        f"{ok / args.seconds:,.0f} accepted/s, {errors} errors, "
        f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
