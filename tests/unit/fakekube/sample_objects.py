"""Objects to create in the stand-in's tests, as plain dicts, and reading a Status from an error."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.exceptions import ApiException

__all__ = ["MR_GROUP", "MR_VERSION", "MR_PLURAL", "configmap", "deployment", "modelrollout", "owner_of", "status_of"]

MR_GROUP, MR_VERSION, MR_PLURAL = "modelrollout.io", "v1alpha1", "modelrollouts"


def configmap(
    name: str, *, labels: dict[str, str] | None = None, data: dict[str, str] | None = None, owners: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels is not None:
        metadata["labels"] = labels
    if owners is not None:
        metadata["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data or {}}


def deployment(name: str, *, replicas: int = 1, image: str = "model:1", owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    labels = {"app": name}
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if owners is not None:
        metadata["ownerReferences"] = owners
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "model", "image": image}]}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
    }


def modelrollout(name: str, *, image: str = "model:1") -> dict[str, Any]:
    return {
        "apiVersion": f"{MR_GROUP}/{MR_VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": name},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "model", "image": image}]}}},
    }


def owner_of(obj: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to `obj` (a dict as the API returns it)."""
    metadata = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": metadata["name"], "uid": metadata["uid"], "controller": True}


def status_of(error: ApiException) -> dict[str, Any]:
    """The `Status` object the server sent with an error."""
    return json.loads(error.body)
