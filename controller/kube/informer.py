"""A local cache of one resource type, kept current by list-then-watch.

Reads in the reconcile loop come from here, not from the API server. A watch that ends is
resumed from the last resourceVersion seen (bookmarks included); a 410 means that version is
too old, so the informer lists again. Handlers run on the event loop for every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from controller.kube.client import Kind, KubeClient
from controller.kube.errors import Gone, KubeError
from controller.kube.store import Store, object_key

__all__ = ["Informer", "Handler"]

log = logging.getLogger(__name__)

# (event type, the object (for DELETED its last known state), the cached version it replaces)
Handler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]


class Informer:
    """List, then watch `kind` (in `namespace`, or everywhere for None) into a Store.

    Several informers (one per watched namespace) may share one Store.
    """

    def __init__(
        self,
        client: KubeClient,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        store: Store | None = None,
        watch_timeout_s: int = 300,
        retry_s: float = 1.0,
    ) -> None:
        self.kind = kind
        self.store = store if store is not None else Store()
        self.synced = asyncio.Event()
        self._client = client
        self._namespace = namespace
        self._selector = label_selector
        self._watch_timeout_s = watch_timeout_s
        self._retry_s = retry_s
        self._handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def run(self) -> None:
        """Until cancelled: list, watch, resume or relist; API trouble is retried, never raised."""
        resource_version = ""
        while True:
            try:
                if not resource_version:
                    resource_version = await self._relist()
                resource_version = await self._watch(resource_version)
            except Gone:
                resource_version = ""
            except KubeError as exc:
                log.warning("watch of %s failed, retrying in %.1fs: %s", self.kind.name, self._retry_s, exc)
                await asyncio.sleep(self._retry_s)

    async def _relist(self) -> str:
        items, resource_version = await self._client.list(self.kind, self._namespace, self._selector)
        vanished = self.store.replace_all(items, self._namespace)
        for obj in vanished.values():
            self._notify("DELETED", obj, None)
        for obj in items:
            self._notify("ADDED", obj, None)
        self.synced.set()
        return resource_version

    async def _watch(self, resource_version: str) -> str:
        """Apply events until the server ends the watch; the resourceVersion to resume from."""
        stream = self._client.watch(self.kind, self._namespace, resource_version, self._selector, self._watch_timeout_s)
        async with contextlib.aclosing(stream) as events:
            async for event in events:
                resource_version = str(event.object.get("metadata", {}).get("resourceVersion") or resource_version)
                self._apply(event.type, event.object)
        return resource_version

    def _apply(self, event_type: str, obj: dict[str, Any]) -> None:
        if event_type == "BOOKMARK":
            return
        namespace, name = object_key(obj)
        old = self.store.get(namespace, name)
        if event_type == "DELETED":
            self.store.remove(namespace, name, str(obj.get("metadata", {}).get("resourceVersion") or "") or None)
        elif not self.store.put(obj):
            return
        self._notify(event_type, obj, old)

    def _notify(self, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for handler in self._handlers:
            try:
                handler(event_type, obj, old)
            except Exception:
                log.exception("handler for %s %s failed", self.kind.name, object_key(obj))
