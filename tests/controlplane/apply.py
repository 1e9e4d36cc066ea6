"""Applying manifests to a test's control plane: created, or replaced when a test before made them.

The session's control plane is shared, so install.yaml's cluster-wide objects and the CRD may
be there already from another test module; a replace keeps them as this working tree has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

__all__ = ["create_or_replace"]


def create_or_replace(admin: k8s.ApiClient, document: dict[str, Any]) -> None:
    """Create `document`; if it exists, replace it (a Namespace or ServiceAccount is left as it is)."""
    try:
        k8s_utils.create_from_dict(admin, document)
        return
    except k8s_utils.FailToCreateError as exc:
        if any(e.status != 409 for e in exc.api_exceptions):
            raise
    if document["kind"] not in (
        "Namespace",
        "ServiceAccount",
    ):  # nothing in those a test depends on; replacing a ServiceAccount drops its tokens
        _replace(admin, document)


def _replace(admin: k8s.ApiClient, document: dict[str, Any]) -> None:
    name, kind = document["metadata"]["name"], document["kind"]
    if kind == "CustomResourceDefinition":
        # A CRD is never replaced unconditionally: the write names the version it replaces.
        extensions = k8s.ApiextensionsV1Api(admin)
        version = extensions.read_custom_resource_definition(name).metadata.resource_version
        extensions.replace_custom_resource_definition(name, {**document, "metadata": {**document["metadata"], "resourceVersion": version}})
        return
    rbac = k8s.RbacAuthorizationV1Api(admin)
    namespace = document["metadata"].get("namespace")
    replacers: dict[str, Callable[[], Any]] = {
        "ClusterRole": lambda: rbac.replace_cluster_role(name, document),
        "ClusterRoleBinding": lambda: rbac.replace_cluster_role_binding(name, document),
        "Role": lambda: rbac.replace_namespaced_role(name, namespace, document),
        "RoleBinding": lambda: rbac.replace_namespaced_role_binding(name, namespace, document),
    }
    replacers[kind]()
