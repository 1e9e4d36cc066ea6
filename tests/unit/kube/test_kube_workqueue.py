"""The work queue: dedupe, one worker per key, timers that keep the earliest deadline, backoff — on a simulated clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from controller.kube.workqueue import Backoff, ShutDown, TokenBucket, WorkQueue

pytestmark = pytest.mark.anyio

K = TypeVar("K", bound=Hashable)


@dataclass
class _Call:
    at: float
    callback: Callable[[Any], None]
    key: Hashable
    cancelled: bool = False

    def when(self) -> float:
        return self.at

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class SimulatedClock:
    """Monotonic seconds that move only when told; due calls run, in deadline order, as they pass."""

    now: float = 1000.0
    _calls: list[tuple[float, int, _Call]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[K], None], key: K, /) -> _Call:
        call = _Call(when, callback, key)
        heapq.heappush(self._calls, (when, next(self._order), call))
        return call

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self._calls and self._calls[0][0] <= self.now:
            _when, _order, call = heapq.heappop(self._calls)
            if not call.cancelled:
                call.callback(call.key)


async def _drain(queue: WorkQueue[Hashable]) -> list[Hashable]:
    """Every key ready now, each processed at once."""
    keys: list[Hashable] = []
    while len(queue):
        key = await queue.get()
        keys.append(key)
        queue.done(key)
    return keys


async def test_a_key_added_many_times_waits_once() -> None:
    queue: WorkQueue[Hashable] = WorkQueue(clock=SimulatedClock())
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert await _drain(queue) == ["a", "b"]


async def test_a_key_added_while_processing_comes_back_after_done_not_before() -> None:
    queue: WorkQueue[Hashable] = WorkQueue(clock=SimulatedClock())
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    assert len(queue) == 0  # not handed to a second worker while the first holds it
    queue.done(key)
    assert await _drain(queue) == ["a"]


async def test_add_after_keeps_the_earliest_deadline() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(clock=clock)
    queue.add_after("a", 0.3)
    queue.add_after("a", 0.05)
    queue.add_after("a", 1.0)
    assert queue.waiting == 1

    clock.advance(0.049)
    assert await _drain(queue) == []
    clock.advance(0.001)
    assert await _drain(queue) == ["a"]
    clock.advance(5.0)
    assert await _drain(queue) == []  # the later deadlines were dropped, not kept as extra wake-ups
    assert queue.waiting == 0


async def test_a_key_ready_now_is_not_delayed_by_a_pending_timer() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(clock=clock)
    queue.add_after("a", 30.0)
    queue.add_after("b", 0)
    assert await _drain(queue) == ["b"]
    clock.advance(30.0)
    assert await _drain(queue) == ["a"]


async def test_rate_limited_delay_doubles_per_failure_and_forget_resets() -> None:
    queue: WorkQueue[Hashable] = WorkQueue(backoff=Backoff(base_s=0.5, cap_s=4.0), rate=1000, burst=1000, clock=SimulatedClock())
    delays = [queue.add_rate_limited("a") for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    queue.forget("a")
    assert queue.failures("a") == 0
    assert queue.add_rate_limited("a") == 0.5


async def test_a_failed_key_comes_back_when_its_backoff_has_passed() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(backoff=Backoff(base_s=2.0, cap_s=60.0), clock=clock)
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")  # a second failure: 4 s; the 2 s deadline already pending wins
    clock.advance(1.9)
    assert await _drain(queue) == []
    clock.advance(0.1)
    assert await _drain(queue) == ["a"]


async def test_the_bucket_spaces_failing_keys_once_its_burst_is_spent() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(backoff=Backoff(base_s=0.001, cap_s=0.001), rate=10, burst=2, clock=clock)
    delays = [queue.add_rate_limited(key) for key in ("a", "b", "c", "d")]
    assert delays == [0.001, 0.001, pytest.approx(0.1), pytest.approx(0.2)]
    clock.advance(0.1)
    drained = await _drain(queue)
    assert len(drained) == 3 and set(drained) == {"a", "b", "c"}
    clock.advance(0.1)
    assert await _drain(queue) == ["d"]


def test_token_bucket_spends_its_burst_then_spaces_requests_at_its_rate() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.1)
    assert bucket.reserve(0.0) == pytest.approx(0.2)
    assert bucket.reserve(10.0) == 0.0  # refilled, capped at the burst


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1, now=0.0)


async def test_shut_down_wakes_waiting_workers_and_drops_timers() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(clock=clock)
    queue.add_after("timer", 1.0)
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(ShutDown):
        await waiting
    queue.add("late")
    clock.advance(2.0)
    assert len(queue) == 0
    assert queue.waiting == 0


async def test_a_waiting_worker_is_woken_by_a_timer_firing() -> None:
    clock = SimulatedClock()
    queue: WorkQueue[Hashable] = WorkQueue(clock=clock)
    waiting = asyncio.create_task(queue.get())
    queue.add_after("a", 10.0)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(10.0)
    assert await waiting == "a"


async def test_workers_share_keys_without_overlap() -> None:
    queue: WorkQueue[Hashable] = WorkQueue(clock=SimulatedClock())
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
            await asyncio.sleep(0)  # hand the loop to the other workers mid-key
            seen.append(key)
            active.discard(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(20):
        for key in range(10):
            queue.add(key)
        for _ in range(round_ % 3):
            await asyncio.sleep(0)
    while len(queue) or len(seen) < 10:
        await asyncio.sleep(0)
    queue.shut_down()
    await asyncio.gather(*workers)
    assert overlaps == []
    assert set(seen) == set(range(10))
