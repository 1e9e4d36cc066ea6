"""Deployments becoming ready, as the real deployment controller and kubelets would make them.

Some time after a Deployment's spec changes (`delay_s` after its last change), its status
reports every replica updated, ready and available for the current generation. Nothing else
about pods is simulated. Off unless asked for: a test that wants to see a rollout wait for
readiness turns it on, or writes the status itself through the store.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakekube.errors import Conflict, NotFound
from tests.fakekube.resources import Resource
from tests.fakekube.store import Store
from tests.fakekube.watch import DELETED, Change

__all__ = ["DeploymentReadiness", "is_ready", "ready_status"]


def _replicas(deployment: dict[str, Any]) -> int:
    replicas = (deployment.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def is_ready(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    generation = deployment["metadata"].get("generation", 1)
    return status.get("observedGeneration") == generation and status.get("readyReplicas", 0) == _replicas(deployment)


def ready_status(deployment: dict[str, Any]) -> dict[str, Any]:
    """The status of a fully rolled-out Deployment; zero counts are left out, as the real server does."""
    replicas = _replicas(deployment)
    counts = {key: replicas for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas") if replicas}
    conditions = [
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet has successfully progressed."},
    ]
    return {"observedGeneration": deployment["metadata"].get("generation", 1), **counts, "conditions": conditions}


class DeploymentReadiness:
    """Listens to the store; timers run on the server's loop, one per Deployment, restarted on change."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be 0 or more, got {delay_s}")
        self._store = store
        self._loop = loop
        self._delay_s = delay_s
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def attach(self) -> None:
        self._store.add_listener(self._on_change)

    def _on_change(self, resource: Resource, change: Change) -> None:
        if resource.kind != "Deployment" or resource.group != "apps" or change.event.type == DELETED:
            return
        if not is_ready(change.event.object):
            metadata = change.event.object["metadata"]
            try:
                self._loop.call_soon_threadsafe(self._schedule, (metadata["namespace"], metadata["name"]))
            except RuntimeError:
                pass  # the server's loop has stopped: no one is left to mark it ready

    def _schedule(self, key: tuple[str, str]) -> None:
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        self._timers[key] = self._loop.call_later(self._delay_s, self._mark_ready, key)

    def _mark_ready(self, key: tuple[str, str]) -> None:
        self._timers.pop(key, None)
        try:
            deployment = self._store.get("deployments.apps", *key)
        except NotFound:
            return
        if is_ready(deployment):
            return
        try:
            self._store.replace("deployments.apps", *key, {**deployment, "status": ready_status(deployment)}, status=True)
        except Conflict:
            self._schedule(key)  # changed by someone else since the read: its own change restarts the clock

    def cancel(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
