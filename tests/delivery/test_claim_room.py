"""A claim takes at most each endpoint's room, and its walk takes (and, on PostgreSQL, locks) no
more candidates than the room can hold, so rows it could not lease stay free for other workers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from ramal.container import Container
from ramal.store.repositories.deliveries import ClaimedDelivery, DeliveryRepository
from tests.conftest import Account
from tests.delivery.helpers import add_events, register

LEASE = timedelta(seconds=60)


def fanned_out(container: Container, account: Account, calls: int) -> None:
    add_events(container, account, [(f"call-{n}", 1, "answered") for n in range(calls)])
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        assert repo.fan_out(container.clock.now(), calls) == calls


def claim(
    repo: DeliveryRepository, container: Container, room: dict[str, int], default_room: int, limit: int = 10
) -> list[ClaimedDelivery]:
    return repo.claim(container.clock.now(), "w", LEASE, limit, room, default_room)


def test_the_walk_leaves_room_for_endpoints_this_process_holds_nothing_of(
    container: Container, account: Account
) -> None:
    """``known`` has little room left; the other active endpoint still gets its default room, so
    the walk's bound counts it (bound by the known room alone, the walk would take 2 and the slack,
    33 rows of each)."""
    known = register(container, account, "http://127.0.0.1:9/known")
    other = register(container, account, "http://127.0.0.1:9/other")
    fanned_out(container, account, 100)  # 200 deliveries, due together
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        claims = claim(repo, container, {known: 2}, default_room=40, limit=100)
    assert Counter(c.endpoint_code for c in claims) == {known: 2, other: 40}


def test_an_endpoint_known_to_be_full_or_short_caps_the_claim(container: Container, account: Account) -> None:
    first = register(container, account, "http://127.0.0.1:9/first")
    second = register(container, account, "http://127.0.0.1:9/second")
    fanned_out(container, account, 6)
    with container.database.write() as connection:
        repo = DeliveryRepository(connection, postgresql=container.database.is_postgresql)
        assert claim(repo, container, {first: 0, second: 0}, default_room=3) == []
        claims = claim(repo, container, {first: 2, second: 1}, default_room=3)
    assert Counter(c.endpoint_code for c in claims) == {first: 2, second: 1}


def test_rows_past_an_endpoints_room_stay_free_for_another_worker(
    container: Container, account: Account
) -> None:
    """With one endpoint there is nothing to take slack for: the walk locks its room's worth."""
    if not container.database.is_postgresql:
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises claims: no concurrent walks")
    code = register(container, account, "http://127.0.0.1:9/hook")
    fanned_out(container, account, 20)
    with container.database.write() as first:
        mine = claim(DeliveryRepository(first, postgresql=True), container, {code: 3}, 128, limit=20)
        with container.database.write() as second:  # while the first transaction is open
            theirs = claim(DeliveryRepository(second, postgresql=True), container, {}, 128, limit=20)
    assert (len(mine), len(theirs)) == (3, 17)
    assert not {c.id for c in mine} & {c.id for c in theirs}
