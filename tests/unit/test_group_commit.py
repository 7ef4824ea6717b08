"""Group commit: concurrent submissions share transactions; a bad item fails alone."""

from __future__ import annotations

import asyncio

import pytest

from ramal.services.group_commit import GroupCommit


async def test_concurrent_items_are_batched_and_all_committed() -> None:
    batches: list[list[int]] = []
    committer = GroupCommit(batches.append, max_batch=10)
    await committer.submit(-1)
    assert batches == [[-1]]  # a lone item is written at once: nobody waits for a timer
    await asyncio.gather(*(committer.submit(n) for n in range(25)))
    assert sorted(n for batch in batches[1:] for n in batch) == list(range(25))
    assert [len(b) for b in batches[1:]] == [1, 10, 10, 4]  # the rest queued behind the first write


async def test_batches_are_written_in_parallel_up_to_the_limit() -> None:
    import threading

    running, peak = 0, 0
    lock = threading.Lock()

    def slow_write(batch: list[int]) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.02)
        with lock:
            running -= 1

    committer = GroupCommit(slow_write, max_batch=5, max_in_flight=3)
    await asyncio.gather(*(committer.submit(n) for n in range(40)))
    assert peak == 3


async def test_a_bad_item_fails_alone() -> None:
    written: list[int] = []

    def write(batch: list[int]) -> None:
        if 13 in batch:
            raise ValueError("bad row")
        written.extend(batch)

    committer = GroupCommit(write)
    results = await asyncio.gather(*(committer.submit(n) for n in range(20)), return_exceptions=True)
    assert [n for n, r in enumerate(results) if isinstance(r, ValueError)] == [13]
    assert sorted(written) == [n for n in range(20) if n != 13]
    with pytest.raises(ValueError, match="bad row"):
        await committer.submit(13)
