"""Faults a test can inject into the stand-in: conflict storms, latency, failing paths.

Set from the test's thread while the server reads them on its own, hence the lock. Watch
history compaction (410 for old watches) lives on the store: `Store.compact`, and
`Store.expire_watches` for open watches too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.fakekube.resources import Registry, Resource

__all__ = ["Faults", "Failure"]


@dataclass
class Failure:
    """Requests whose path starts with `prefix` (and, if given, use `method`) answer `status`."""

    prefix: str
    status: int
    method: str | None
    remaining: int | None  # None: until cleared

    def applies(self, method: str, path: str) -> bool:
        return path.startswith(self.prefix) and self.method in (None, method.upper()) and self.remaining != 0


class Faults:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._conflicts: dict[tuple[Resource, str, str], int] = {}
        self._latency: list[tuple[str, float]] = []
        self._failures: list[Failure] = []

    def conflict_storm(self, resource: Resource | str, namespace: str | None, name: str, count: int) -> None:
        """The next `count` writes (PUT or PATCH, main resource or status) of one object get 409 Conflict."""
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        key = (self._registry.named(resource), namespace or "", name)
        with self._lock:
            self._conflicts[key] = count

    def take_conflict(self, resource: Resource, namespace: str | None, name: str) -> bool:
        key = (resource, namespace or "", name)
        with self._lock:
            left = self._conflicts.get(key, 0)
            if left <= 0:
                return False
            self._conflicts[key] = left - 1
            return True

    def add_latency(self, seconds: float, prefix: str = "/") -> None:
        """Every request whose path starts with `prefix` waits `seconds` before it is served."""
        if seconds < 0:
            raise ValueError(f"latency must be 0 s or more, got {seconds}")
        with self._lock:
            self._latency.append((prefix, seconds))

    def latency_for(self, path: str) -> float:
        with self._lock:
            return sum(seconds for prefix, seconds in self._latency if path.startswith(prefix))

    def fail(self, prefix: str, *, status: int = 500, count: int | None = None, method: str | None = None) -> None:
        """Requests to paths under `prefix` answer `status` (500 unless told), `count` times or until cleared."""
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code 400..599, got {status}")
        with self._lock:
            self._failures.append(Failure(prefix, status, method.upper() if method else None, count))

    def take_failure(self, method: str, path: str) -> int | None:
        """The status to fail this request with, using up one of the failure's count; None to serve it."""
        with self._lock:
            for failure in self._failures:
                if failure.applies(method, path):
                    if failure.remaining is not None:
                        failure.remaining -= 1
                    return failure.status
        return None

    def clear(self) -> None:
        with self._lock:
            self._conflicts.clear()
            self._latency.clear()
            self._failures.clear()
