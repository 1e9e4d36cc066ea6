"""The Cluster port for Kubernetes: each revision a Deployment + Service `<name>-<revision>`.

Readiness comes from the Deployment's status in the informer cache: a revision is ready when
its Deployment has caught up with its current spec and every replica it asks for is ready.
A revision scaled to zero is never ready.

The engine asks for a revision once, when it decides to; what it asked for is kept on the
Deployment (annotations with the pod template and the replica count, as `kubectl apply` keeps
its last-applied configuration), so `keep_revisions` can put back a hand-edited Deployment on
any later reconcile, after a controller restart included. The sizes come from the engine, which
derives them from `spec.replicas` (the scale subresource's number, which an HPA may set): a
revision Deployment's replicas are the controller's, so an autoscaler targets the ModelRollout.

`scale_status` reads back what the scale subresource reports: every model pod of the rollout,
the ready ones, and the label selector that finds them (router pods excluded).
"""

from __future__ import annotations

import json
from typing import Any

from controller.api.resource import ModelRollout
from controller.engine.actions import EnsureRevision, KeepRevisions, ScaleRevision
from controller.errors import DependencyError
from controller.kube.apply import ensure_object
from controller.kube.client import DEPLOYMENT, SERVICE, KubeClient
from controller.kube.errors import NotFound
from controller.kube.objects import (
    LABEL_COMPONENT,
    LABEL_REVISION,
    LABEL_ROLLOUT,
    revision_deployment,
    revision_name,
    revision_service,
)
from controller.kube.store import Store

__all__ = ["KubeCluster", "deployment_ready", "model_selector", "TEMPLATE_ANNOTATION", "REPLICAS_ANNOTATION"]

TEMPLATE_ANNOTATION = "modelrollout.io/template"
REPLICAS_ANNOTATION = "modelrollout.io/replicas"


def deployment_ready(deployment: dict[str, Any]) -> bool:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    generation = int(deployment.get("metadata", {}).get("generation", 0))
    caught_up = int(status.get("observedGeneration", 0)) >= generation
    ready = int(status.get("readyReplicas", 0) or 0)
    updated = int(status.get("updatedReplicas", ready) or 0)
    return wanted > 0 and caught_up and ready >= wanted and updated >= wanted


def model_selector(rollout: ModelRollout) -> str:
    """Every model pod of the rollout, whatever its revision, and no router pod: what an HPA averages over."""
    return f"{LABEL_ROLLOUT}={rollout.name},{LABEL_COMPONENT}=model"


def _desired(rollout: ModelRollout, revision: str, template: dict[str, Any], replicas: int) -> dict[str, Any]:
    deployment = revision_deployment(rollout, revision, template, replicas)
    deployment["metadata"]["annotations"] = {
        TEMPLATE_ANNOTATION: json.dumps(template, sort_keys=True, separators=(",", ":")),
        REPLICAS_ANNOTATION: str(replicas),
    }
    return deployment


def _intent(deployment: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """(template, replicas) the controller last asked of this Deployment; None when unreadable."""
    annotations = deployment.get("metadata", {}).get("annotations") or {}
    try:
        template = json.loads(annotations[TEMPLATE_ANNOTATION])
        replicas = int(annotations[REPLICAS_ANNOTATION])
    except (KeyError, ValueError, TypeError):
        return None
    return (template, replicas) if isinstance(template, dict) and replicas >= 0 else None


class KubeCluster:
    def __init__(self, client: KubeClient, deployments: Store, services: Store) -> None:
        self._client = client
        self._deployments = deployments
        self._services = services

    async def ensure_revision(self, rollout: ModelRollout, action: EnsureRevision) -> None:
        desired = _desired(rollout, action.revision, action.template, action.replicas)
        await ensure_object(self._client, DEPLOYMENT, self._deployments, desired)
        await ensure_object(self._client, SERVICE, self._services, revision_service(rollout, action.revision))

    async def scale_revision(self, rollout: ModelRollout, action: ScaleRevision) -> None:
        name = revision_name(rollout, action.revision)
        live = self._deployments.get(rollout.namespace, name)
        intent = _intent(live) if live is not None else None
        if intent is not None:
            desired = _desired(rollout, action.revision, intent[0], action.replicas)
            await ensure_object(self._client, DEPLOYMENT, self._deployments, desired)
            return
        patch = {"metadata": {"annotations": {REPLICAS_ANNOTATION: str(action.replicas)}}, "spec": {"replicas": action.replicas}}
        try:
            self._deployments.put(await self._client.patch(DEPLOYMENT, rollout.namespace, name, patch))
        except NotFound as exc:
            if action.replicas == 0:
                return  # nothing to scale down
            raise DependencyError(
                f"cannot scale revision {action.revision} of {rollout.namespace}/{rollout.name} to "
                f"{action.replicas}: Deployment {name} does not exist"
            ) from exc

    async def ready_revisions(self, rollout: ModelRollout) -> frozenset[str]:
        return frozenset(
            _revision_label(d) for d in self._deployments.by_label(rollout.namespace, rollout.name) if deployment_ready(d)
        ) - {""}

    async def keep_revisions(self, rollout: ModelRollout, action: KeepRevisions) -> None:
        """Put every revision Deployment back to what was last asked of it; recreate the live one that vanished."""
        seen: set[str] = set()
        for deployment in self._deployments.by_label(rollout.namespace, rollout.name):
            revision, intent = _revision_label(deployment), _intent(deployment)
            if not revision or intent is None:
                continue
            seen.add(revision)
            await ensure_object(self._client, DEPLOYMENT, self._deployments, _desired(rollout, revision, *intent))
            if revision in action.live:
                await ensure_object(self._client, SERVICE, self._services, revision_service(rollout, revision))
        if action.recreate is not None and action.recreate.revision not in seen:
            await self.ensure_revision(rollout, action.recreate)

    def scale_status(self, rollout: ModelRollout) -> dict[str, Any]:
        """The scale subresource's status fields: model pods of every revision, the ready ones, their selector."""
        revisions = [d for d in self._deployments.by_label(rollout.namespace, rollout.name) if _revision_label(d)]
        statuses = [d.get("status") or {} for d in revisions]
        return {
            "replicas": sum(int(s.get("replicas") or 0) for s in statuses),
            "ready_replicas": sum(int(s.get("readyReplicas") or 0) for s in statuses),
            "selector": model_selector(rollout),
        }


def _revision_label(deployment: dict[str, Any]) -> str:
    return str((deployment.get("metadata", {}).get("labels") or {}).get(LABEL_REVISION, ""))
