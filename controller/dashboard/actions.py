"""Carrying out a person's action from the dashboard: the request annotation, and an Event naming who asked."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from controller.engine.inputs import ManualAction, ManualRequest
from controller.kube.client import EVENT, KubeClient
from controller.kube.errors import KubeError
from controller.kube.manual_send import send_request

__all__ = ["COMPONENT", "REASON", "act", "action_event"]

log = logging.getLogger(__name__)

COMPONENT = "modelrollout-dashboard"
REASON = "ActionRequested"


def action_event(obj: dict[str, Any], request: ManualRequest, who: str, now: datetime) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{metadata.get('name')}.{request.id[:16]}", "namespace": metadata.get("namespace")},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
        },  # fmt: skip
        "type": "Normal",
        "reason": REASON,
        "message": f"{request.action.value} requested by {who} from the dashboard (request {request.id})"[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


async def act(client: KubeClient, obj: dict[str, Any], action: ManualAction, who: str) -> ManualRequest:
    """Write the request (refused with Pending while an earlier one is unhandled) and record who asked."""
    metadata = obj.get("metadata") or {}
    namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
    request = await send_request(client, namespace, name, action)
    try:
        await client.create(EVENT, namespace, action_event(obj, request, who, datetime.now(UTC)))
    except KubeError as exc:
        # The request is written; the record of it is a courtesy that must not undo it.
        log.warning("could not record who asked for %s on %s/%s: %s", action.value, namespace, name, exc)
    return request
