"""The in-memory object store behind the stand-in API server: objects, versions, deletion, watches.

Every write takes one lock, stamps the next value of a global resourceVersion counter, and
tells the watchers before the lock is released, so watch streams see writes in order. Stored
objects are never changed in place (each write stores a new dict): watch events share them,
while every object handed back to a caller is a copy it may change freely.

Deletion is immediate (finalizers are not honoured). Owner references are collected as the
garbage collector would: with the default propagation, deleting an owner deletes each
dependent whose owners are now all gone, transitively, and drops the dangling reference from
dependents that still have a live owner; `Orphan` only drops the reference. An object created
with owner references that all name deleted owners is collected straight away. Deleting a
namespace deletes everything in it.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from tests.fakekube.errors import (
    BadRequest,
    Expired,
    NotFound,
    already_exists,
    conflict,
    invalid,
    not_found,
)
from tests.fakekube.owners import Key, OwnerIndex, owner_uids
from tests.fakekube.patches import PatchType, apply_patch
from tests.fakekube.resources import Registry, Resource, default_registry
from tests.fakekube.selectors import ObjectFilter
from tests.fakekube.validation import check_endpoint_slice
from tests.fakekube.watch import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    MODIFIED,
    Change,
    Sink,
    Subscription,
    WatchEvent,
    WatchHub,
)
from tests.fakekube.writes import Identity, prepare_create, prepare_update

__all__ = ["Store", "Admission", "Listener", "ORPHAN", "BACKGROUND", "FOREGROUND"]

ORPHAN, BACKGROUND, FOREGROUND = "Orphan", "Background", "Foreground"
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Admission = Callable[[dict[str, Any]], Sequence[tuple[str, str]]]
"""Extra checks on a kind's objects before they are stored: (field, message) causes for a 422."""
# Checks the real API server makes on a kind's content, beyond metadata, made here too.
BUILT_IN_ADMISSION: dict[str, Admission] = {"endpointslices.discovery.k8s.io": check_endpoint_slice}
Listener = Callable[[Resource, Change], None]
"""Told of every committed change, with the store's lock held: it must not write to the store."""


def _copy(obj: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(obj))
    except TypeError as exc:
        raise BadRequest(f"the object is not JSON: {exc}") from exc


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    def __init__(
        self,
        registry: Registry | None = None,
        *,
        history_size: int = 10_000,
        clock: Callable[[], datetime] = _utc_now,
        admission: Mapping[str, Admission] | None = None,
        seed: int | None = None,
        loopback_endpoints: bool = False,
    ) -> None:
        """`admission` adds checks to the built-in ones; `loopback_endpoints` lets EndpointSlices hold
        addresses a real server refuses (loopback, link-local), for a harness with no way around them."""
        if history_size < 1:
            raise ValueError(f"history_size must be at least 1, got {history_size}")
        self.registry = registry or default_registry()
        self._lock = threading.RLock()
        self._objects: dict[Resource, dict[str, dict[str, dict[str, Any]]]] = {}
        self._rv = 0
        self._hub = WatchHub(history_size)
        self._owners = OwnerIndex()
        self._listeners: list[Listener] = []
        built_in = {} if loopback_endpoints else BUILT_IN_ADMISSION
        self._admission: dict[Resource, list[Admission]] = {}
        for name, check in [*built_in.items(), *(admission or {}).items()]:
            self._admission.setdefault(self.registry.named(name), []).append(check)
        self._clock = clock
        self._random = random.Random(seed)

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    # -- reads ---------------------------------------------------------------------------------

    def _scope(self, resource: Resource, namespace: str | None) -> str:
        if not resource.namespaced:
            return ""
        if not namespace:
            raise BadRequest(f"{resource.qualified} are namespaced: a namespace is required")
        return namespace

    def _stored(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        obj = self._objects.get(resource, {}).get(namespace, {}).get(name)
        if obj is None:
            raise not_found(resource, name)
        return obj

    def get(self, resource: Resource | str, namespace: str | None, name: str) -> dict[str, Any]:
        res = self.registry.named(resource)
        with self._lock:
            return _copy(self._stored(res, self._scope(res, namespace), name))

    def _select(self, resource: Resource, object_filter: ObjectFilter) -> list[dict[str, Any]]:
        by_namespace = self._objects.get(resource, {})
        if object_filter.namespace is not None and resource.namespaced:
            spaces = [by_namespace.get(object_filter.namespace, {})]
        else:
            spaces = [by_namespace[ns] for ns in sorted(by_namespace)]
        return [obj for space in spaces for _, obj in sorted(space.items()) if object_filter.matches(obj)]

    def list(
        self,
        resource: Resource | str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """(matching objects ordered by namespace and name, the resourceVersion to watch from)."""
        res = self.registry.named(resource)
        object_filter = ObjectFilter.parse(namespace if res.namespaced else None, label_selector, field_selector)
        with self._lock:
            return _copy(self._select(res, object_filter)), str(self._rv)

    # -- writes --------------------------------------------------------------------------------

    def _identity(self) -> Identity:
        uid = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        suffix = "".join(self._random.choices(_SUFFIX_ALPHABET, k=5))
        return Identity(uid, self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"), suffix)

    def _admit(self, resource: Resource, obj: dict[str, Any]) -> None:
        causes = [cause for check in self._admission.get(resource, ()) for cause in check(obj)]
        if causes:
            raise invalid(resource, str(obj["metadata"].get("name", "")), causes)

    def _commit(self, resource: Resource, type_: str, new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Stamp the next resourceVersion on `new` (a fresh dict), store or drop it, tell watchers."""
        self._rv += 1
        new["metadata"] = {**new["metadata"], "resourceVersion": str(self._rv)}
        key: Key = (resource, str(new["metadata"].get("namespace", "")), new["metadata"]["name"])
        space = self._objects.setdefault(resource, {}).setdefault(key[1], {})
        if old is not None:
            self._owners.remove(key, old)
        if type_ == DELETED:
            del space[key[2]]
        else:
            space[key[2]] = new
            self._owners.add(key, new)
        change = Change(self._rv, WatchEvent(type_, new), old)
        self._hub.publish(resource, change)
        for listener in self._listeners:
            listener(resource, change)
        return new

    def create(self, resource: Resource | str, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        res = self.registry.named(resource)
        body = _copy(body)
        with self._lock:
            new = prepare_create(res, self._scope(res, namespace), body, self._identity())
            if new["metadata"]["name"] in self._objects.get(res, {}).get(new["metadata"].get("namespace", ""), {}):
                raise already_exists(res, new["metadata"]["name"])
            self._admit(res, new)
            created = _copy(self._commit(res, ADDED, new, None))
            self._collect_if_orphaned(res, new)
            return created

    def _collect_if_orphaned(self, resource: Resource, obj: dict[str, Any]) -> None:
        """A new object whose every owner is already gone is collected, as the garbage collector does.

        The real collector does it a moment later; here it happens at once, so a controller that
        recreates what belonged to a deleted owner sees the object appear and vanish again.
        """
        owners = owner_uids(obj)
        if owners and not any(self._owners.exists(uid) for uid in owners):
            stored = self._objects[resource][str(obj["metadata"].get("namespace", ""))][obj["metadata"]["name"]]
            self._collect(str(self._remove(resource, stored)["metadata"]["uid"]))

    def _write(self, res: Resource, namespace: str | None, name: str, body: Any, *, status_only: bool, require_rv: bool) -> dict[str, Any]:
        if status_only and not res.status_subresource:
            raise NotFound(f"{res.qualified} have no status subresource")
        old = self._stored(res, self._scope(res, namespace), name)
        new = prepare_update(res, old, body, status_only=status_only, require_rv=require_rv)
        if new is None:
            return _copy(old)
        self._admit(res, new)
        return _copy(self._commit(res, MODIFIED, new, old))

    def replace(
        self, resource: Resource | str, namespace: str | None, name: str, body: Mapping[str, Any], *, status: bool = False
    ) -> dict[str, Any]:
        """PUT: the main resource (status kept as stored) or, with `status`, the status subresource."""
        res = self.registry.named(resource)
        body = _copy(body)
        with self._lock:
            return self._write(res, namespace, name, body, status_only=status, require_rv=True)

    def patch(
        self,
        resource: Resource | str,
        namespace: str | None,
        name: str,
        patch: Any,
        patch_type: PatchType = PatchType.MERGE,
        *,
        status: bool = False,
    ) -> dict[str, Any]:
        """PATCH: a `metadata.resourceVersion` in the patch is a precondition, as on the real server."""
        res = self.registry.named(resource)
        patch = _copy(patch)
        with self._lock:
            old = self._stored(res, self._scope(res, namespace), name)
            patched = apply_patch(old, patch, patch_type)
            return self._write(res, namespace, name, patched, status_only=status, require_rv=False)

    # -- deletion ------------------------------------------------------------------------------

    def delete(
        self,
        resource: Resource | str,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Delete now and collect dependents; the object as it was deleted."""
        res = self.registry.named(resource)
        with self._lock:
            obj = self._stored(res, self._scope(res, namespace), name)
            self._check_delete_preconditions(res, obj, preconditions or {})
            deleted = self._remove(res, obj)
            if propagation == ORPHAN:
                self._orphan(str(obj["metadata"]["uid"]))
            else:
                self._collect(str(obj["metadata"]["uid"]))
            if res.kind == "Namespace" and not res.group:
                self._empty_namespace(name)
            return _copy(deleted)

    def _check_delete_preconditions(self, resource: Resource, obj: Mapping[str, Any], preconditions: Mapping[str, Any]) -> None:
        metadata, name = obj["metadata"], obj["metadata"]["name"]
        for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(field)
            if wanted and str(wanted) != str(metadata.get(field)):
                raise conflict(
                    resource, name, f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {metadata.get(field)}"
                )

    def _remove(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return self._commit(resource, DELETED, {**obj}, obj)

    def _drop_references(self, key: Key, keep: Callable[[str], bool]) -> None:
        obj = self._objects[key[0]][key[1]][key[2]]
        references = [r for r in obj["metadata"].get("ownerReferences") or [] if keep(str(r["uid"]))]
        metadata = {**obj["metadata"], "ownerReferences": references}
        if not references:
            del metadata["ownerReferences"]
        self._commit(key[0], MODIFIED, {**obj, "metadata": metadata}, obj)

    def _orphan(self, owner_uid: str) -> None:
        for key in self._owners.dependents_of(owner_uid):
            self._drop_references(key, lambda uid: uid != owner_uid)

    def _collect(self, owner_uid: str) -> None:
        """Cascade from a deleted owner, breadth first, without recursion."""
        pending = deque([owner_uid])
        while pending:
            for key in self._owners.dependents_of(pending.popleft()):
                obj = self._objects[key[0]][key[1]][key[2]]
                references = obj["metadata"].get("ownerReferences") or []
                if any(self._owners.exists(str(r["uid"])) for r in references):
                    self._drop_references(key, self._owners.exists)
                else:
                    pending.append(str(self._remove(key[0], obj)["metadata"]["uid"]))

    def _empty_namespace(self, namespace: str) -> None:
        for resource in [r for r in self._objects if r.namespaced]:
            for name in list(self._objects[resource].get(namespace, {})):
                obj = self._objects[resource][namespace].get(name)
                if obj is not None:  # a cascade from an earlier deletion may have taken it already
                    self._remove(resource, obj)
                    self._collect(str(obj["metadata"]["uid"]))

    # -- watches -------------------------------------------------------------------------------

    def watch(
        self,
        resource: Resource | str,
        namespace: str | None,
        resource_version: str | None,
        sink: Sink,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Subscription:
        """Register `sink` for changes after `resource_version`; "" or "0" first sends every object as ADDED.

        Raises Expired (410) when the history no longer reaches back to `resource_version`.
        Events share the stored objects: a sink must not change them.
        """
        res = self.registry.named(resource)
        subscription = Subscription(res, ObjectFilter.parse(namespace if res.namespaced else None, label_selector, field_selector), sink)
        with self._lock:
            self._replay(subscription, resource_version or "")
            self._hub.subscribe(subscription)
        return subscription

    def _replay(self, subscription: Subscription, resource_version: str) -> None:
        if resource_version in ("", "0"):
            for obj in self._select(subscription.resource, subscription.filter):
                subscription.sink(WatchEvent(ADDED, obj))
            return
        try:
            since = int(resource_version)
        except ValueError as exc:
            raise BadRequest(f"resourceVersion {resource_version!r} is not a valid resource version: expected an integer") from exc
        for change in self._hub.replay(subscription.resource, since):
            if (event := subscription.view(change)) is not None:
                subscription.sink(event)

    def stop_watch(self, subscription: Subscription, *, bookmark: bool = False) -> None:
        """Stop telling `subscription`; with `bookmark`, its last event is a BOOKMARK at the current version."""
        with self._lock:
            if not subscription.active:
                return
            self._hub.unsubscribe(subscription)
            if bookmark:
                res = subscription.resource
                marker = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"resourceVersion": str(self._rv)}}
                subscription.sink(WatchEvent(BOOKMARK, marker))

    def compact(self) -> str:
        """Forget the watch history: a watch from any version before now gets 410 Expired."""
        with self._lock:
            self._hub.compact(self._rv)
            return str(self._rv)

    def expire_watches(self) -> str:
        """Forget the watch history and end every open watch with an ERROR 410 Expired event.

        The real server does this to a watcher that falls behind the history it keeps: the
        watcher must list again. Done under the lock, so a watch being set up right now either
        gets the event or, starting from a version before now, 410 at its start.
        """
        with self._lock:
            self._hub.compact(self._rv)
            gone = WatchEvent(ERROR, Expired(f"too old resource version: the watch history was compacted at {self._rv}").status())
            for subscription in self._hub.subscriptions():
                self._hub.unsubscribe(subscription)
                subscription.sink(gone)
            return str(self._rv)

    def watcher_count(self) -> int:
        with self._lock:
            return self._hub.watcher_count()
