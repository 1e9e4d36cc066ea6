"""Watch fan-out: a bounded history of changes per resource type, and the watchers to tell.

The store calls in here while holding its lock, so every watcher sees changes in
resourceVersion order. A watch that starts from a resourceVersion the history no longer covers
is refused with 410 Expired, as the real watch cache does. A watcher with a selector sees an
object that starts matching as ADDED and one that stops matching as DELETED.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.fakekube.errors import Expired
from tests.fakekube.resources import Resource
from tests.fakekube.selectors import ObjectFilter

__all__ = ["WatchEvent", "Change", "Sink", "Subscription", "WatchHub", "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"


class WatchEvent:
    """One line of a watch stream; its JSON encoding is made once and shared by every watcher."""

    __slots__ = ("type", "object", "_line")

    def __init__(self, type_: str, obj: dict[str, Any]) -> None:
        self.type = type_
        self.object = obj
        self._line: bytes | None = None

    def line(self) -> bytes:
        if self._line is None:
            self._line = orjson.dumps({"type": self.type, "object": self.object}) + b"\n"
        return self._line

    def __repr__(self) -> str:
        metadata = self.object.get("metadata") or {}
        return f"WatchEvent({self.type}, {metadata.get('namespace', '')}/{metadata.get('name', '')}@{metadata.get('resourceVersion')})"


@dataclass(frozen=True)
class Change:
    """A committed write: the event as an unfiltered watcher sees it, and the object before it."""

    rv: int
    event: WatchEvent
    old: dict[str, Any] | None = None


Sink = Callable[[WatchEvent], None]


@dataclass(eq=False)
class Subscription:
    resource: Resource
    filter: ObjectFilter
    sink: Sink
    active: bool = True

    def view(self, change: Change) -> WatchEvent | None:
        """The event this watcher sees for `change`, or None when it concerns no object it selects."""
        now = self.filter.matches(change.event.object)
        if change.event.type != MODIFIED or change.old is None:
            return change.event if now else None
        before = self.filter.matches(change.old)
        if now and before:
            return change.event
        if now or before:
            return WatchEvent(ADDED if now else DELETED, change.event.object)
        return None


@dataclass
class _History:
    changes: deque[Change]
    compacted_rv: int = 0


@dataclass
class WatchHub:
    """Per-resource history and subscriptions; every method expects the store's lock held."""

    history_size: int
    _histories: dict[Resource, _History] = field(default_factory=dict)
    _subscriptions: dict[Resource, set[Subscription]] = field(default_factory=dict)
    _compacted_rv: int = 0

    def _history(self, resource: Resource) -> _History:
        if resource not in self._histories:
            self._histories[resource] = _History(deque(maxlen=self.history_size))
        return self._histories[resource]

    def publish(self, resource: Resource, change: Change) -> None:
        history = self._history(resource)
        if len(history.changes) == self.history_size:
            history.compacted_rv = history.changes[0].rv
        history.changes.append(change)
        for subscription in self._subscriptions.get(resource, ()):
            if (event := subscription.view(change)) is not None:
                subscription.sink(event)

    def replay(self, resource: Resource, since_rv: int) -> Iterator[Change]:
        """Changes after `since_rv`; Expired when some of them are no longer kept."""
        history = self._history(resource)
        oldest = max(history.compacted_rv, self._compacted_rv)
        if since_rv < oldest:
            raise Expired(f"too old resource version: {since_rv} ({oldest})")
        return (change for change in history.changes if change.rv > since_rv)

    def subscribe(self, subscription: Subscription) -> None:
        self._subscriptions.setdefault(subscription.resource, set()).add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.active = False
        self._subscriptions.get(subscription.resource, set()).discard(subscription)

    def compact(self, rv: int) -> None:
        """Forget every change up to `rv`: watches from before it get 410 from now on."""
        self._compacted_rv = rv
        for history in self._histories.values():
            history.changes.clear()

    def subscriptions(self) -> list[Subscription]:
        return [subscription for subscriptions in self._subscriptions.values() for subscription in subscriptions]

    def watcher_count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscriptions.values())
