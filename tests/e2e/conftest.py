"""Real ``ramal serve`` processes on free ports, spoken to over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def ramal(self, *args: str) -> dict[str, object]:
        """Run a ``ramal`` CLI command against the same database; parse its --json output."""
        done = subprocess.run(
            [sys.executable, "-m", "ramal", *args], env=self.env, capture_output=True, timeout=60
        )
        command = " ".join(args)
        assert done.returncode == 0, f"ramal {command} exited {done.returncode}: {done.stderr.decode()}"
        return orjson.loads(done.stdout)  # type: ignore[no-any-return]


def start_server(database_url: str, workdir: Path, **extra_env: str) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "RAMAL_DATABASE_URL": database_url,
        "RAMAL_DATA_DIR": str(workdir / "data"),
        "RAMAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **extra_env,
    }
    log = (workdir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ramal", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"ramal serve exited with {process.returncode}: {(workdir / f'serve-{port}.log').read_text()}"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(url, env, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("ramal serve did not become ready in 30 s")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(database_url, tmp_path)
    yield running
    stop_server(running)
