"""A watch stream's queue: filled from any thread (the store tells watchers under its lock, on
whichever thread wrote), drained by the coroutine that writes the HTTP response.

Events go into one deque, so they keep their order whatever thread pushed them; the consumer
is woken through an asyncio.Event that is set directly on the loop's thread and through
`call_soon_threadsafe` from any other.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from tests.fakekube.watch import ERROR, WatchEvent

__all__ = ["WatchChannel"]


class WatchChannel:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._events: deque[WatchEvent] = deque()
        self._ready = asyncio.Event()
        self.closed = False

    def push(self, event: WatchEvent) -> None:
        self._events.append(event)
        if event.type == ERROR:  # as on the real server, an ERROR is a stream's last event
            self.closed = True
        self._wake()

    def close(self) -> None:
        """End the stream after what is queued (the server shutting down, or a test ending watches)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self._ready.is_set():
            return  # the consumer clears before it drains, so it will see what was just added
        if threading.get_ident() == self._loop_thread:
            self._ready.set()
            return
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            pass  # the loop has closed: nobody is reading any more

    def drain(self) -> list[WatchEvent]:
        self._ready.clear()
        events: list[WatchEvent] = []
        while self._events:  # popleft, not copy-then-clear: a push may land in between
            events.append(self._events.popleft())
        return events

    async def wait(self, timeout_s: float | None) -> None:
        """Until something is pushed or the channel closes, at most `timeout_s` seconds."""
        if self._events or self.closed:
            return
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            pass
