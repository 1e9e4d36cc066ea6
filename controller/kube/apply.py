"""Create-or-patch of owned objects, writing only when the live object differs from the desired one.

"Differs" means some field the controller sets has another value live: fields the API server
defaults or other controllers add (status, extra labels, `imagePullPolicy`) are not drift.
A hand edit of a field the controller owns is drift, and is patched back on the next reconcile.

The live object is what the server keeps, not what it was sent, and two of its habits would
otherwise look like drift on every reconcile (and a PATCH each time, for ever):

- it omits a field that holds its zero value (`publishNotReadyAddresses: false`, `args: []`,
  `initialDelaySeconds: 0`, `creationTimestamp: null`): Kubernetes' `omitempty`. So a desired
  zero value is met by an absent live field. (A JSON merge patch of `null` removes the field,
  so absence is also what a desired `null` asks for.)
- it keeps quantities in canonical form (`cpu: "0.5"` comes back `500m`, `1024Mi` as `1Gi`).
  So the values of resource maps (`requests`, `limits`, `overhead`) and `sizeLimit` are
  compared as quantities.
"""

from __future__ import annotations

from typing import Any

from controller.kube.client import Kind, KubeClient
from controller.kube.errors import AlreadyExists, NotFound
from controller.kube.quantities import QUANTITY_FIELDS, QUANTITY_MAPS, same_quantity
from controller.kube.store import Store

__all__ = ["covers", "ensure_object", "delete_object"]


def covers(live: Any, desired: Any) -> bool:
    """Whether `live` holds every field of `desired` with the same value (extra live fields allowed)."""
    return _covers(live, desired, quantity=False)


def _covers(live: Any, desired: Any, quantity: bool) -> bool:
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(_field_covered(live, key, value) for key, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(_covers(a, b, False) for a, b in zip(live, desired))
    if isinstance(desired, bool) or isinstance(live, bool):
        return live is desired
    if quantity and same_quantity(live, desired):
        return True
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)):
        return float(live) == float(desired)
    return bool(live == desired)


def _field_covered(live: dict[str, Any], key: str, desired: Any) -> bool:
    if key not in live:
        return _is_zero(desired)  # the server omits zero values: absent is how it keeps them
    if key in QUANTITY_MAPS and isinstance(desired, dict) and isinstance(live[key], dict):
        return all(k in live[key] and _covers(live[key][k], v, True) for k, v in desired.items())
    return _covers(live[key], desired, key in QUANTITY_FIELDS)


def _is_zero(value: Any) -> bool:
    """None, false, 0, "" or an empty map or list: what Go's `omitempty` leaves out of the JSON."""
    if isinstance(value, bool):
        return value is False
    if isinstance(value, (int, float)):
        return value == 0
    return value is None or value == "" or value == {} or value == []


async def ensure_object(client: KubeClient, kind: Kind, store: Store, desired: dict[str, Any]) -> dict[str, Any]:
    """The live object after making it cover `desired`; the store is updated with what was written."""
    metadata = desired["metadata"]
    namespace, name = metadata["namespace"], metadata["name"]
    live = store.get(namespace, name)
    if live is not None and covers(live, desired):
        return live
    if live is None:
        try:
            written = await client.create(kind, namespace, desired)
        except AlreadyExists:
            live = await client.get(kind, namespace, name)
            if covers(live, desired):
                store.put(live)
                return live
            written = await client.patch(kind, namespace, name, desired)
    else:
        try:
            written = await client.patch(kind, namespace, name, desired)
        except NotFound:
            written = await client.create(kind, namespace, desired)
    store.put(written)
    return written


async def delete_object(client: KubeClient, kind: Kind, store: Store, namespace: str, name: str) -> None:
    try:
        await client.delete(kind, namespace, name)
    except NotFound:
        pass
    store.remove(namespace, name)
