"""Writing a manual request so that none is lost: the sending side of `kube/manual.py`.

A request is written only when no earlier one is still unhandled (its id differs from
`status.lastRequestId`), and the write carries the resourceVersion it was checked against, so
two people acting at once cannot overwrite each other's request unseen: the second is refused
with `Pending`, naming the first. The CLI and the dashboard both send through here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controller.engine.inputs import ManualAction, ManualRequest
from controller.errors import SpecError
from controller.kube.client import MODELROLLOUT, KubeClient
from controller.kube.errors import Conflict
from controller.kube.manual import new_request, read_request, request_patch

__all__ = ["Pending", "Refused", "Precheck", "pending_request", "send_request"]

_ATTEMPTS = 5

# A check of the live object before the request is written: a message refuses it.
Precheck = Callable[[dict[str, Any]], str | None]


class Pending(Exception):
    """An earlier request on the rollout is not handled yet: writing another would replace it unseen."""

    def __init__(self, namespace: str, name: str, request: ManualRequest) -> None:
        self.request = request
        at = f" sent {request.at.isoformat(timespec='seconds')}" if request.at else ""
        super().__init__(
            f"{namespace}/{name} still has an unhandled {request.action.value} request ({request.id}{at}); "
            "wait until the controller handles it (is the controller running?) and try again"
        )


class Refused(Exception):
    """The precheck refused the request before anything was written."""


def pending_request(obj: dict[str, Any]) -> ManualRequest | None:
    """The request on the object the controller has not handled yet, if any."""
    try:
        request = read_request(obj.get("metadata") or {})
    except SpecError:
        return None  # unreadable: the controller reports it, and a new request replaces it
    if request is None or request.id == (obj.get("status") or {}).get("lastRequestId"):
        return None
    return request


async def send_request(
    client: KubeClient, namespace: str, name: str, action: ManualAction, precheck: Precheck | None = None
) -> ManualRequest:
    """Annotate the rollout with a request for `action`; returns the request.

    Raises Pending when an earlier request is unhandled, Refused when `precheck` says why not.
    """
    for _ in range(_ATTEMPTS):
        obj = await client.get(MODELROLLOUT, namespace, name)
        if (earlier := pending_request(obj)) is not None:
            raise Pending(namespace, name, earlier)
        if precheck is not None and (problem := precheck(obj)) is not None:
            raise Refused(problem)
        request = new_request(action, datetime.now(UTC))
        patch = request_patch(request)
        patch["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]  # written only over what was checked
        try:
            await client.patch(MODELROLLOUT, namespace, name, patch)
            return request
        except Conflict:
            continue
    raise Conflict(409, "Conflict", f"{namespace}/{name} kept changing while the request was written; try again")
