"""How fast the sandbox moves messages: one 10,000-recipient send, then the simulator's batches.

In-process with a manual clock, so the figure is the database work of the simulator alone:
``MessageService.send`` for the bulk send, then ``advance_due`` batches of 500 until the timelines end.

    flock /tmp/ramal-bench.lock .venv/bin/python bench/message_simulator.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ramal.clock import ManualClock
from ramal.container import build_container
from ramal.services.messages import MessageKind, SendRequest
from ramal.settings import Settings
from ramal.store.migrations import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None, help="an empty database (default: temp SQLite)")
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        url = args.database_url or f"sqlite:///{Path(temp)}/bench.db"
        clock = ManualClock()
        container = build_container(Settings(database_url=url, data_dir=Path(temp) / "data"), clock=clock)
        upgrade(container.database.engine)
        issued = container.accounts.create_account("Bench", numbers=["554130600300"])
        principal = container.tokens.authenticate(
            container.tokens.issue(issued.client_id, issued.client_secret).token
        )
        request = SendRequest(
            kind=MessageKind.SMS,
            origin="554130600300",
            destinations=[f"55419{n:08d}" for n in range(args.recipients)],
            text="Sua consulta foi confirmada.",
            campos={"campanha": "novembro"},
        )
        started = time.perf_counter()
        container.messages.send(principal, request)
        send_seconds = time.perf_counter() - started

        clock.advance(hours=1)  # every timeline is due: queued -> sent -> delivered/failed in one pass
        started = time.perf_counter()
        moved = 0
        while (batch := container.messages.advance_due(500)) > 0:
            moved += batch
        advance_seconds = time.perf_counter() - started
        container.close()
    backend = url.split(":")[0].split("+")[0]
    print(
        f"{backend}: send to {args.recipients:,} recipients {send_seconds:.2f} s "
        f"({args.recipients / send_seconds:,.0f} recipients/s); simulator moved {moved:,} messages "
        f"through their whole timelines in {advance_seconds:.2f} s ({moved / advance_seconds:,.0f}/s)"
    )


if __name__ == "__main__":
    main()
