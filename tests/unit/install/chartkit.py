"""Shared pieces of the install tests: the value sets, Kubernetes schema checks, and lookups in rendered objects.

Schema checks use `kubernetes-validate`, which carries the upstream OpenAPI schemas of each
Kubernetes release and validates offline; strict mode rejects unknown fields as `kubectl
apply` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate

__all__ = [
    "REPO_ROOT",
    "KUBE_VERSIONS",
    "ALL_FEATURES",
    "VALUE_SETS",
    "Docs",
    "schema_errors",
    "find",
    "one",
    "controller_container",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
# The oldest release the chart supports (Chart.yaml kubeVersion) and the newest with schemas here.
KUBE_VERSIONS = ["1.28.0", kubernetes_validate.latest_version()]

# Every optional part switched on, so every template renders something.
ALL_FEATURES: dict[str, Any] = {
    "watchNamespaces": ["models", "staging"],
    "dashboard": {"enabled": True, "allowActions": True},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "imagePullSecrets": [{"name": "registry"}],
    "podAnnotations": {"example.com/team": "ml"},
}
VALUE_SETS = {"defaults": {}, "all-features": ALL_FEATURES}

Docs = list[dict[str, Any]]


def schema_errors(doc: dict[str, Any], kube_version: str) -> list[str]:
    """What the upstream schema of `kube_version` rejects in `doc` (strict: unknown fields too)."""
    try:
        kubernetes_validate.validate(doc, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        return [f"{doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}"]
    return []


def find(docs: Docs, kind: str, name: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        doc
        for doc in docs
        if doc["kind"] == kind
        and (name is None or doc["metadata"]["name"] == name)
        and (namespace is None or doc["metadata"].get("namespace") == namespace)
    ]


def one(docs: Docs, kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    if len(found) != 1:
        raise LookupError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def controller_container(docs: Docs) -> dict[str, Any]:
    return one(docs, "Deployment", "modelrollout-controller")["spec"]["template"]["spec"]["containers"][0]
