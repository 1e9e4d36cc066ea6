"""The work queue: dedupe, one worker per key, timers that keep the earliest deadline, backoff."""

from __future__ import annotations

import asyncio

import pytest

from controller.kube.workqueue import Backoff, ShutDown, TokenBucket, WorkQueue

pytestmark = pytest.mark.anyio


async def _drain(queue: WorkQueue, limit_s: float = 0.05) -> list[object]:
    keys: list[object] = []
    while True:
        try:
            key = await asyncio.wait_for(queue.get(), limit_s)
        except TimeoutError:
            return keys
        keys.append(key)
        queue.done(key)


async def test_a_key_added_many_times_waits_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert await _drain(queue) == ["a", "b"]


async def test_a_key_added_while_processing_comes_back_after_done_not_before() -> None:
    queue = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    assert len(queue) == 0  # not handed to a second worker while the first holds it
    queue.done(key)
    assert await _drain(queue) == ["a"]


async def test_add_after_keeps_the_earliest_deadline() -> None:
    queue = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue.add_after("a", 0.3)
    queue.add_after("a", 0.05)
    queue.add_after("a", 1.0)
    key = await asyncio.wait_for(queue.get(), 1.0)
    elapsed = loop.time() - start
    queue.done(key)
    assert key == "a"
    assert 0.04 <= elapsed < 0.25
    assert await _drain(queue, 0.4) == []  # the later deadlines were dropped, not kept as extra wake-ups


async def test_rate_limited_delay_doubles_per_failure_and_forget_resets() -> None:
    queue = WorkQueue(backoff=Backoff(base_s=0.01, cap_s=0.05), rate=1000, burst=1000)
    delays = [queue.add_rate_limited("a") for _ in range(5)]
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])
    queue.forget("a")
    assert queue.failures("a") == 0
    assert queue.add_rate_limited("a") == pytest.approx(0.01)


def test_token_bucket_spends_its_burst_then_spaces_requests_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    assert bucket.reserve(0.0) == pytest.approx(0.2)
    assert bucket.reserve(10.0) == 0.0  # refilled, capped at the burst


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1, now=0.0)


async def test_shut_down_wakes_waiting_workers() -> None:
    queue = WorkQueue()
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(waiting, 1.0)
    queue.add("late")
    assert len(queue) == 0


async def test_workers_share_keys_without_overlap() -> None:
    queue = WorkQueue()
    active: set[object] = set()
    overlaps: list[object] = []
    seen: list[object] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0.001)
            seen.append(key)
            active.discard(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(20):
        for key in range(10):
            queue.add(key)
        await asyncio.sleep(0.0005 * (round_ % 3))
    await asyncio.sleep(0.1)
    queue.shut_down()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert set(seen) == set(range(10))
