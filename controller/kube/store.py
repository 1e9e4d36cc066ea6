"""The informer cache: objects by (namespace, name), kept as compact JSON, indexed by one label.

Objects are stored encoded (orjson bytes, managedFields dropped) and decoded on every read: a
decoded Kubernetes object takes four to five times the memory of its JSON, a controller holds a
dozen objects per rollout, and every reader gets its own copy that it may change freely.

A removal leaves a tombstone at the version the object was deleted at. The controller writes
its own results through to the cache, and such a result can arrive after the watch already
reported the object deleted (a status write racing `kubectl delete`); without the tombstone
that late write would bring a deleted object back into the cache, and the controller would
keep reconciling, and recreating the workloads of, a rollout that no longer exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Key", "Store", "object_key", "is_newer"]

Key = tuple[str, str]


def object_key(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def is_newer(candidate: str, current: str | None) -> bool:
    """Whether resourceVersion `candidate` is at least as new as `current`.

    resourceVersions are opaque strings by contract, but every API server issues them from
    etcd's increasing revision; comparing as integers keeps a write-through result from
    being overwritten by a watch event that was already in flight. Non-numeric ones win.
    """
    if current is None:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) >= int(current)
    return True


def _encode(obj: dict[str, Any]) -> bytes:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return orjson.dumps(obj)


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes
    version: str
    label: str | None


class Store:
    """Written only by its informer(s) and by write-through of the controller's own writes."""

    def __init__(self, index_label: str | None = None, tombstone_limit: int = 10_000) -> None:
        self._entries: dict[Key, _Entry] = {}
        self._index_label = index_label
        self._index: dict[Key, set[str]] = {}
        self._tombstones: dict[Key, str] = {}
        self._tombstone_limit = tombstone_limit

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        entry = self._entries.get((namespace, name))
        return orjson.loads(entry.body) if entry is not None else None

    def version(self, namespace: str, name: str) -> str | None:
        entry = self._entries.get((namespace, name))
        return entry.version if entry is not None else None

    def by_label(self, namespace: str, value: str) -> list[dict[str, Any]]:
        """Objects in `namespace` whose index label equals `value`."""
        names = sorted(self._index.get((namespace, value), ()))
        return [orjson.loads(self._entries[(namespace, n)].body) for n in names]

    def put(self, obj: dict[str, Any]) -> bool:
        """Keep `obj` unless the store already holds a newer version; True when kept."""
        key, version = object_key(obj), _version(obj)
        if not is_newer(version, self.version(*key)):
            return False
        deleted_at = self._tombstones.get(key)
        if deleted_at is not None:
            if version == deleted_at or not is_newer(version, deleted_at):
                return False
            del self._tombstones[key]
        self._set(key, obj)
        return True

    def remove(self, namespace: str, name: str, deleted_version: str | None = None) -> dict[str, Any] | None:
        """Forget an object; nothing at or before `deleted_version` (default: the cached one) comes back."""
        key = (namespace, name)
        entry = self._entries.pop(key, None)
        tombstone = deleted_version if deleted_version is not None else (entry.version if entry is not None else None)
        if tombstone:
            self._bury(key, tombstone)
        if entry is None:
            return None
        self._unindex(key, entry)
        return orjson.loads(entry.body)

    def _bury(self, key: Key, version: str) -> None:
        self._tombstones.pop(key, None)
        self._tombstones[key] = version
        if len(self._tombstones) > self._tombstone_limit:  # oldest first: dicts keep insertion order
            del self._tombstones[next(iter(self._tombstones))]

    def replace_all(self, objects: list[dict[str, Any]], namespace: str | None = None) -> dict[Key, dict[str, Any]]:
        """Swap in a fresh list of `namespace` (None: everything); returns the objects that vanished."""
        fresh = {object_key(o): o for o in objects}
        gone = [k for k in self._entries if k not in fresh and namespace in (None, k[0])]
        vanished = {key: obj for key in gone if (obj := self.remove(*key)) is not None}
        for key, obj in fresh.items():
            self._tombstones.pop(key, None)
            self._set(key, obj)
        return vanished

    def values(self) -> Iterator[dict[str, Any]]:
        return (orjson.loads(entry.body) for entry in list(self._entries.values()))

    def all_keys(self) -> list[Key]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _set(self, key: Key, obj: dict[str, Any]) -> None:
        old = self._entries.get(key)
        if old is not None:
            self._unindex(key, old)
        labels = (obj.get("metadata") or {}).get("labels") or {}
        label = labels.get(self._index_label) if self._index_label else None
        entry = _Entry(_encode(obj), _version(obj), str(label) if label is not None else None)
        self._entries[key] = entry
        if entry.label is not None:
            self._index.setdefault((key[0], entry.label), set()).add(key[1])

    def _unindex(self, key: Key, entry: _Entry) -> None:
        if entry.label is None:
            return
        names = self._index.get((key[0], entry.label))
        if names is not None:
            names.discard(key[1])
            if not names:
                del self._index[(key[0], entry.label)]
