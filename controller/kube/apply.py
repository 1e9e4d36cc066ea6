"""Create-or-patch of owned objects, writing only when the live object differs from the desired one.

"Differs" means some field the controller sets has another value live: fields the API server
defaults or other controllers add (status, extra labels, `imagePullPolicy`) are not drift.
A hand edit of a field the controller owns is drift, and is patched back on the next reconcile.
"""

from __future__ import annotations

from typing import Any

from controller.kube.client import Kind, KubeClient
from controller.kube.errors import AlreadyExists, NotFound
from controller.kube.store import Store

__all__ = ["covers", "ensure_object", "delete_object"]


def covers(live: Any, desired: Any) -> bool:
    """Whether `live` holds every field of `desired` with the same value (extra live fields allowed)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(k in live and covers(live[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(covers(a, b) for a, b in zip(live, desired))
    if isinstance(desired, bool) or isinstance(live, bool):
        return live is desired
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)):
        return float(live) == float(desired)
    return bool(live == desired)


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
