"""Work an adapter starts and nobody awaits (post-rollout gates told, retrainings fired), until shutdown.

asyncio keeps only a weak reference to a task, so a task no one holds may be collected mid-way;
`Background` holds each until it ends. At shutdown `close` gives what still runs a moment to
finish, then cancels it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Background"]

T = TypeVar("T")


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, drain_s: float) -> None:
        """Wait up to `drain_s` for what still runs, then cancel the rest and wait for it to stop."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=drain_s)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
