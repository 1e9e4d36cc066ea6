"""Reading a watch stream through `kubernetes.watch.Watch` on a thread, for the stand-in's tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import watch

from tests.fakekube import FakeKube

__all__ = ["WatchCollector", "wait_until"]


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


class WatchCollector:
    """Collects (type, raw object) pairs from one `Watch.stream` call until it ends."""

    def __init__(self, kube: FakeKube, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None
        self._watch = watch.Watch()
        watchers_before = kube.store.watcher_count()
        self._thread = threading.Thread(target=self._run, args=(func, args, kwargs), daemon=True)
        self._thread.start()
        wait_until(lambda: kube.store.watcher_count() > watchers_before or not self._thread.is_alive(), what="the watch to register")

    def _run(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            for event in self._watch.stream(func, *args, **kwargs):
                self.events.append((event["type"], event["raw_object"]))
        except Exception as exc:  # noqa: BLE001 -- handed to the test through .error
            self.error = exc

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        wait_until(lambda: len(self.events) >= count or not self._thread.is_alive(), timeout_s, f"{count} watch events")
        return self.events[:count]

    def join(self, timeout_s: float = 5.0) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"the watch did not end within {timeout_s} s")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()
