"""The EventSink port for Kubernetes: core/v1 Events on the ModelRollout.

Like client-go's recorder, an event that repeats (same object, type, reason and message) bumps
`count` on one Event instead of creating another, and a failure to record is logged, never
raised: an Event is a courtesy to people, and losing one must not hold a rollout.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent
from controller.kube.client import EVENT, KubeClient
from controller.kube.errors import AlreadyExists, KubeError
from controller.kube.leader import micro_time

__all__ = ["KubeEventSink", "COMPONENT", "event_name", "event_body"]

log = logging.getLogger(__name__)

COMPONENT = "modelrollout-controller"


def event_name(rollout: ModelRollout, event: EmitEvent) -> str:
    """One name per (object, type, reason, message), so repeats land on the same Event."""
    uid = str(rollout.metadata.get("uid", ""))
    digest = hashlib.sha256(f"{uid}|{event.type}|{event.reason}|{event.message}".encode()).hexdigest()[:16]
    return f"{rollout.name}.{digest}"


def event_body(rollout: ModelRollout, event: EmitEvent, now: datetime, instance: str) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name(rollout, event), "namespace": rollout.namespace},
        "involvedObject": {
            "apiVersion": rollout.api_version,
            "kind": rollout.kind,
            "name": rollout.name,
            "namespace": rollout.namespace,
            "uid": str(rollout.metadata.get("uid", "")),
            "resourceVersion": str(rollout.metadata.get("resourceVersion", "")),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "eventTime": micro_time(now),
        "action": event.reason,
        "count": 1,
    }


class KubeEventSink:
    def __init__(self, client: KubeClient, now: Callable[[], datetime], instance: str) -> None:
        self._client = client
        self._now = now
        self._instance = instance

    async def emit(self, rollout: ModelRollout, event: EmitEvent) -> None:
        body = event_body(rollout, event, self._now(), self._instance)
        try:
            await self._client.create(EVENT, rollout.namespace, body)
        except AlreadyExists:
            await self._bump(rollout, body)
        except KubeError as exc:
            log.warning("could not record event %s on %s/%s: %s", event.reason, rollout.namespace, rollout.name, exc)

    async def _bump(self, rollout: ModelRollout, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        try:
            live = await self._client.get(EVENT, rollout.namespace, name)
            patch = {"count": int(live.get("count") or 1) + 1, "lastTimestamp": body["lastTimestamp"]}
            await self._client.patch(EVENT, rollout.namespace, name, patch)
        except KubeError as exc:
            log.warning("could not update event %s on %s/%s: %s", name, rollout.namespace, rollout.name, exc)
