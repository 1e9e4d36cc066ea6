"""List-then-watch in a thread, as an informer does: a full picture first, then every change.

`Mirror` keeps the objects of one list call (plain dicts, by namespace/name) up to date and
calls `on_change(obj)` after each change with the object as it now is (as the watch delivered
it, also when deleted), and `on_change(None)` after each full list. Typed list calls of the
official client and the dict-returning custom-object ones both work. A watch that ends or breaks is
followed by a fresh list, so deletions missed between two watches are not kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

__all__ = ["Mirror"]

log = logging.getLogger(__name__)


def _key(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class Mirror:
    """The live objects of `list_call` (e.g. `CoreV1Api.list_service_for_all_namespaces`)."""

    def __init__(
        self, api_client: k8s.ApiClient, list_call: Callable[..., Any], on_change: Callable[[dict[str, Any] | None], None], name: str
    ) -> None:
        self._api_client = api_client
        self._list = list_call
        self._on_change = on_change
        self._name = name
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watch: k8s_watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name=f"mirror-{name}", daemon=True)

    def start(self) -> Mirror:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._watch is not None:
            self._watch.stop()
        self._thread.join(5)

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def _plain(self, obj: Any) -> dict[str, Any]:
        return self._api_client.sanitize_for_serialization(obj)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                listed = self._plain(self._list(_request_timeout=30))
                with self._lock:
                    self._objects = {_key(o): o for o in listed.get("items") or []}
                self._on_change(None)
                self._watch = k8s_watch.Watch()
                stream = self._watch.stream(
                    self._list, resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=60, _request_timeout=90
                )
                for event in stream:
                    if self._stopping.is_set():
                        return
                    if event["type"] == "ERROR":
                        break  # e.g. 410 Gone: list again
                    obj = self._plain(event["object"])
                    with self._lock:
                        if event["type"] == "DELETED":
                            self._objects.pop(_key(obj), None)
                        else:
                            self._objects[_key(obj)] = obj
                    self._on_change(obj)
            except Exception as exc:  # noqa: BLE001 -- a broken watch is listed and watched again
                if not self._stopping.is_set():
                    log.warning("%s watch ended: %s", self._name, exc)
                    self._stopping.wait(0.5)
