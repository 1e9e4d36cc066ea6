"""A rate-limited work queue of object keys, in the manner of client-go's.

- A key waits in the queue at most once, however often it is added.
- A key is never handed to two workers at once: added while being processed, it is queued
  again when its worker calls `done`.
- `add_after` keeps the earliest pending deadline per key (timers, analysis intervals).
- `add_rate_limited` delays by a per-key exponential backoff, and an overall token bucket
  bounds how fast failing keys come back; `forget` resets a key's backoff after a success.

Time comes from a `QueueClock`: monotonic seconds and timers on them. The running event loop is
one (the default); tests pass a simulated one and move it on by hand, so a backoff of a minute
is checked without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Backoff", "QueueClock", "ShutDown", "Timer", "TokenBucket", "WorkQueue"]

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """`get` on a queue that was shut down."""


class Timer(Protocol):
    """A pending call, as `asyncio.TimerHandle` is one."""

    def when(self) -> float: ...

    def cancel(self) -> None: ...


class QueueClock(Protocol):
    """Monotonic seconds and calls scheduled on them: an asyncio event loop, or a simulated clock."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[K], None], key: K, /) -> Timer: ...


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 60.0

    def delay_s(self, failures: int) -> float:
        return min(self.cap_s, self.base_s * 2 ** max(0, failures - 1))


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; `reserve` says how long to wait for one."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"token bucket needs rate > 0 and burst >= 1, got rate={rate} burst={burst}")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def reserve(self, now: float) -> float:
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class WorkQueue(Generic[K]):
    """Keys of type `K` (a controller's are (namespace, name))."""

    def __init__(self, backoff: Backoff | None = None, rate: float = 20.0, burst: int = 200, *, clock: QueueClock | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._clock: QueueClock = clock if clock is not None else self._loop
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._timers: dict[K, Timer] = {}
        self._failures: dict[K, int] = {}
        self._backoff = backoff or Backoff()
        self._bucket = TokenBucket(rate, burst, self._clock.time())
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._shut = False

    def __len__(self) -> int:
        return len(self._ready)

    @property
    def waiting(self) -> int:
        """Keys with a timer pending."""
        return len(self._timers)

    def add(self, key: K) -> None:
        if self._shut or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._wake_one()

    def add_after(self, key: K, delay_s: float) -> None:
        """Add `key` in `delay_s`; an earlier pending deadline for it wins."""
        if delay_s <= 0:
            self.add(key)
            return
        deadline = self._clock.time() + delay_s
        pending = self._timers.get(key)
        if pending is not None:
            if pending.when() <= deadline:
                return
            pending.cancel()
        self._timers[key] = self._clock.call_at(deadline, self._fire, key)

    def add_rate_limited(self, key: K) -> float:
        """Requeue a failed key after its backoff; returns the delay chosen."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay_s = max(self._backoff.delay_s(failures), self._bucket.reserve(self._clock.time()))
        self.add_after(key, delay_s)
        return delay_s

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self) -> K:
        """The next key to process; the caller must call `done(key)` when finished."""
        while not self._ready:
            if self._shut:
                raise ShutDown("work queue is shut down")
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and self._ready:
                    self._wake_one()  # pass on a wake-up this worker can no longer use
                raise
        if self._shut:
            raise ShutDown("work queue is shut down")
        key = self._ready.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shut:
            self._ready.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        """Wake every waiting worker with ShutDown and drop pending timers."""
        self._shut = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
