"""The dispatcher's local queue: claim ahead, but never more than the caps in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ramal.delivery.slots import Budget, Ready, Slots
from ramal.store.repositories.deliveries import ClaimedDelivery

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ready(delivery_id: int, endpoint: str, start_by: datetime = NOW + timedelta(seconds=30)) -> Ready:
    claim = ClaimedDelivery(
        id=delivery_id,
        attempts=0,
        event_id=f"event-{delivery_id}",
        event_type="call.answered",
        subject_id=f"call-{delivery_id}",
        sequence=1,
        payload={},
        event_created_at=NOW,
        endpoint_code=endpoint,
        url="http://127.0.0.1/hook",
        secret="whsec_x",
        previous_secret=None,
        previous_secret_expires_at=None,
    )
    return Ready(claim, b"data=x", start_by)


def started(slots: Slots) -> list[int]:
    start, stale = slots.take(NOW)
    assert stale == []
    return [item.claim.id for item in start]


def test_claims_ahead_up_to_twice_the_caps_and_starts_only_the_caps() -> None:
    slots = Slots(concurrency=4, endpoint_cap=2)
    budget = slots.budget()
    assert (budget.free, budget.room, budget.default_room) == (8, {}, 4)
    for n in range(4):
        slots.add(ready(n, "slow"))
    slots.add(ready(10, "fast"))
    assert started(slots) == [0, 1, 10]  # "slow" is at its cap of 2 in flight
    budget = slots.budget()
    assert budget.free == 3
    assert budget.room == {"slow": 0, "fast": 3}
    assert started(slots) == []
    slots.finished("slow")
    assert started(slots) == [2]  # the next waiting claim of that endpoint starts at once
    assert (slots.waiting, slots.budget().free) == (1, 4)  # 3 in flight, "slow" 3 waiting


def test_the_process_cap_holds_across_endpoints() -> None:
    slots = Slots(concurrency=2, endpoint_cap=2)
    for n, code in enumerate(["a", "b", "c"]):
        slots.add(ready(n, code))
    assert len(started(slots)) == 2
    slots.finished("a")
    assert len(started(slots)) == 1


def test_a_lane_takes_one_claim_for_the_slot_it_freed() -> None:
    slots = Slots(concurrency=4, endpoint_cap=4)
    for n in range(4):
        slots.add(ready(n, "a"))
    start, _ = slots.take(NOW, limit=1)
    assert [item.claim.id for item in start] == [0]
    assert (slots.waiting, slots.budget().room["a"]) == (3, 4)  # 1 in flight, 3 waiting of 8
    start, _ = slots.take(NOW, limit=2)
    assert [item.claim.id for item in start] == [1, 2]
    assert started(slots) == [3]  # no limit: every free slot


def test_a_claim_that_waited_past_its_start_by_is_given_back_not_started() -> None:
    slots = Slots(concurrency=1, endpoint_cap=1)
    slots.add(ready(1, "a"))
    slots.add(ready(2, "a", start_by=NOW - timedelta(seconds=1)))
    slots.add(ready(3, "a"))
    assert started(slots) == [1]
    slots.finished("a")
    start, stale = slots.take(NOW)
    assert ([item.claim.id for item in start], stale) == ([3], [2])


def test_drop_hands_back_waiting_claims_of_one_endpoint_or_all() -> None:
    slots = Slots(concurrency=1, endpoint_cap=1)
    for n, code in enumerate(["a", "a", "b", "b"]):
        slots.add(ready(n, code))
    assert started(slots) == [0]
    assert slots.drop("a") == [1]
    assert slots.drop() == [2, 3]
    slots.finished("a")
    assert slots.waiting == 0
    assert slots.budget().free == 2  # nothing in flight either


def test_a_claim_in_progress_holds_its_budget_until_released() -> None:
    slots = Slots(concurrency=4, endpoint_cap=2)
    slots.add(ready(1, "a"))
    first = slots.reserve()
    assert (first.free, first.room, first.default_room) == (7, {"a": 3}, 4)
    second = slots.budget()  # a second step while the first is in flight: only what it cannot take
    assert (second.free, second.room, second.default_room) == (0, {"a": 0}, 0)
    assert started(slots) == [1]
    slots.finished("a")  # a slot freed during the first claim is the second's to fill
    assert slots.budget() == Budget(1, {"a": 1}, 0)
    slots.release(first)
    for n in range(2, 5):  # the first claim brought 3 for "a"
        slots.add(ready(n, "a"))
    assert slots.budget() == Budget(5, {"a": 1}, 4)
