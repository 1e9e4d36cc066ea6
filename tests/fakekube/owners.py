"""Owner-reference bookkeeping for garbage collection: which objects exist by uid, who owns whom.

Both lookups are dictionaries, so deciding what a deletion takes with it costs time in the
number of dependents, not in the number of stored objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.fakekube.resources import Resource

__all__ = ["Key", "OwnerIndex", "owner_uids"]

Key = tuple[Resource, str, str]  # resource type, namespace ("" when cluster-scoped), name


def owner_uids(obj: Mapping[str, Any]) -> list[str]:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(reference["uid"]) for reference in references]


class OwnerIndex:
    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}
        self._dependents: dict[str, set[Key]] = {}

    def add(self, key: Key, obj: Mapping[str, Any]) -> None:
        self._keys[str(obj["metadata"]["uid"])] = key
        for uid in owner_uids(obj):
            self._dependents.setdefault(uid, set()).add(key)

    def remove(self, key: Key, obj: Mapping[str, Any]) -> None:
        self._keys.pop(str(obj["metadata"]["uid"]), None)
        for uid in owner_uids(obj):
            dependents = self._dependents.get(uid)
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self._dependents[uid]

    def exists(self, uid: str) -> bool:
        return uid in self._keys

    def dependents_of(self, uid: str) -> list[Key]:
        """Keys of objects naming `uid` as an owner, in a stable order."""
        return sorted(self._dependents.get(uid, ()), key=lambda key: (key[0].qualified, key[1], key[2]))
