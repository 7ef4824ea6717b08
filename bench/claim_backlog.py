"""What a claim costs while a paused endpoint holds a backlog: it should not grow with the backlog.

An endpoint failing for days is paused with its events kept; until it is resumed, its backlog sits
in the deliveries table beside everyone else's traffic. Per database and backlog size: the account of
bench/callbacks.py with one endpoint, ``N`` events fanned out to it, the endpoint paused (as the
dispatcher pauses it), a second endpoint registered, then the median time of a dispatcher step that
claims 32 of the second endpoint's deliveries (one write transaction: fan-out, claim, commit).

    python bench/claim_backlog.py [--sizes 1000 20000] [--postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from callbacks import Scenario, drop_schemas, fresh_database  # the same account, events, databases
from ramal.store.database import HeldWriter
from ramal.store.repositories.deliveries import ClaimedDelivery, DeliveryRepository
from ramal.testing.databases import SqliteTemplate

LEASE = timedelta(seconds=60)
STEPS = 15
BATCH = 32


def claim_ms(database_url: str, backlog: int) -> float:
    """Median milliseconds of a claiming step while ``backlog`` deliveries of a paused endpoint wait."""
    scenario = Scenario(database_url, "http://127.0.0.1:9/paused")
    container, database = scenario.container, scenario.container.database
    writer = database.held_writer()
    try:
        for _ in range(backlog // 1000):
            scenario.append(1000)
        while step(writer, database.is_postgresql, container.clock.now(), claim=False)[0]:
            pass  # the backlog fanned out to the first endpoint
        [paused] = container.callbacks.list_endpoints(scenario.owner, "voice")
        with database.write() as connection:
            repo = DeliveryRepository(connection, postgresql=database.is_postgresql)
            repo.update_health({paused.code}, set(), container.clock.now(), timedelta(0))
        container.callbacks.add(scenario.owner, "voice", "http://127.0.0.1:9/healthy")
        scenario.append(STEPS * BATCH)
        times = []
        for _ in range(STEPS):
            started = time.perf_counter()
            claimed = step(writer, database.is_postgresql, container.clock.now(), claim=True)[1]
            times.append(time.perf_counter() - started)
            assert len(claimed) == BATCH
            assert paused.code not in {claim.endpoint_code for claim in claimed}
        return 1000 * statistics.median(times)
    finally:
        writer.close()
        container.close()


def step(
    writer: HeldWriter, postgresql: bool, now: datetime, *, claim: bool
) -> tuple[int, list[ClaimedDelivery]]:
    """One dispatcher step without results to record: fan out, and claim a batch if asked."""
    with writer.write() as connection:
        repo = DeliveryRepository(connection, postgresql=postgresql)
        fanned = repo.fan_out(now, 500)
        return fanned, repo.claim(now, "bench", LEASE, BATCH) if claim else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    template = SqliteTemplate(Path(tempfile.mkdtemp(prefix="ramal-bench-claims-")))
    backends: list[tuple[str, SqliteTemplate | None]] = [("sqlite", template)]
    if args.postgres:
        backends.append(("postgresql", None))
    try:
        for name, source in backends:
            for size in args.sizes:
                milliseconds = claim_ms(fresh_database(source), size)
                print(f"{name:<10} paused backlog {size:>7,}: claiming step {milliseconds:6.2f} ms (median)")
    finally:
        drop_schemas()


if __name__ == "__main__":
    main()
