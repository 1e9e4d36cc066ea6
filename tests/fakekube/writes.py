"""How a create or an update turns a request body into the object to store, as the API server does.

Pure functions of (resource type, stored object, request): they check preconditions and
ownership of fields, and return the new object without its resourceVersion (the store stamps
that when it commits). Rules kept from the real server:

- create drops `status` for kinds with a status subresource and fills uid, timestamps, generation;
- an update of the main resource keeps the stored status; an update of `/status` keeps
  everything but the status;
- a stale `metadata.resourceVersion` is 409 Conflict; custom resources must send one at all;
- `metadata.generation` grows when anything outside metadata and status changes, for the kinds
  that track it;
- an update that changes nothing returns None: no new resourceVersion, no watch event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakekube.errors import BadRequest, conflict, invalid
from tests.fakekube.resources import Resource
from tests.fakekube.validation import check_metadata

__all__ = ["Identity", "prepare_create", "prepare_update", "SERVER_OWNED"]

SERVER_OWNED = ("uid", "creationTimestamp", "generation", "resourceVersion", "deletionTimestamp")
STALE = "the object has been modified; please apply your changes to the latest version and try again"


@dataclass(frozen=True)
class Identity:
    """What the server assigns to a new object."""

    uid: str
    timestamp: str
    generated_suffix: str


def _check_type(resource: Resource, body: Mapping[str, Any]) -> None:
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if kind not in (None, "", resource.kind):
        raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
    if api_version not in (None, "", resource.api_version):
        raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API version ({resource.api_version})")


def _metadata_of(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise BadRequest(f"the request body must be a JSON object, got {type(body).__name__}")
    metadata = body.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise BadRequest(f"metadata must be a JSON object, got {type(metadata).__name__}")
    return dict(metadata)


def _check_namespace(resource: Resource, metadata: Mapping[str, Any], namespace: str) -> None:
    given = metadata.get("namespace")
    if resource.namespaced and given not in (None, "", namespace):
        raise BadRequest(f"the namespace of the provided object ({given}) does not match the namespace sent on the request ({namespace})")


def _assemble(resource: Resource, body: Mapping[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    rest = {key: value for key, value in body.items() if key not in ("apiVersion", "kind", "metadata")}
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": metadata, **rest}


def _validated(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    causes = check_metadata(resource, obj)
    if causes:
        raise invalid(resource, str((obj.get("metadata") or {}).get("name") or ""), causes)
    return obj


def prepare_create(resource: Resource, namespace: str, body: Any, identity: Identity) -> dict[str, Any]:
    metadata = _metadata_of(body)
    _check_type(resource, body)
    _check_namespace(resource, metadata, namespace)
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = f"{metadata['generateName']}{identity.generated_suffix}"
    for key in SERVER_OWNED:
        metadata.pop(key, None)
    metadata.update(uid=identity.uid, creationTimestamp=identity.timestamp, generation=1)
    if resource.namespaced:
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    obj = _assemble(resource, body, metadata)
    if resource.status_subresource:
        obj.pop("status", None)
    return _validated(resource, obj)


def _check_preconditions(resource: Resource, old: Mapping[str, Any], metadata: Mapping[str, Any], require_rv: bool) -> None:
    name, stored = old["metadata"]["name"], old["metadata"]
    given_rv = str(metadata.get("resourceVersion") or "")
    if not given_rv and require_rv:
        raise invalid(resource, name, [("metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update")])
    if given_rv and given_rv != stored["resourceVersion"]:
        raise conflict(resource, name, STALE)
    given_uid = metadata.get("uid")
    if given_uid and given_uid != stored["uid"]:
        raise conflict(resource, name, f"Precondition failed: UID in precondition: {given_uid}, UID in object meta: {stored['uid']}")


def _spec_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}


def _with_status(obj: dict[str, Any], status: Any) -> dict[str, Any]:
    obj = {key: value for key, value in obj.items() if key != "status"}
    if status is not None:
        obj["status"] = status
    return obj


def _merged(resource: Resource, old: dict[str, Any], body: Mapping[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The main resource's new state: the body, with server-owned metadata and (maybe) status kept."""
    stored = old["metadata"]
    for key in (*SERVER_OWNED, "name", "namespace"):
        metadata.pop(key, None)
        if key in stored:
            metadata[key] = stored[key]
    new = _assemble(resource, body, metadata)
    if resource.status_subresource:
        new = _with_status(new, old.get("status"))
    if resource.tracks_generation and _spec_part(new) != _spec_part(old):
        metadata["generation"] = int(stored.get("generation", 1)) + 1
    return new


def prepare_update(
    resource: Resource, old: dict[str, Any], body: Any, *, status_only: bool, require_rv: bool
) -> dict[str, Any] | None:
    """The object to store for a PUT (or a patched object), or None when nothing changes."""
    metadata = _metadata_of(body)
    _check_type(resource, body)
    name = old["metadata"]["name"]
    if metadata.get("name") not in (None, "", name):
        raise BadRequest(f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({name})")
    _check_namespace(resource, metadata, str(old["metadata"].get("namespace", "")))
    _check_preconditions(resource, old, metadata, require_rv and not resource.unconditional_update)
    if status_only:
        new = _with_status({**old, "metadata": dict(old["metadata"])}, body.get("status"))
    else:
        new = _merged(resource, old, body, metadata)
    if new == old:
        return None
    return _validated(resource, new)

