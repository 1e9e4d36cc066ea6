"""The Kubernetes objects a ModelRollout owns, built as plain dicts (pure: no API calls).

Names: each live revision runs as Deployment + Service `<name>-<revision>`; the router as
Deployment `<name>-router` with ConfigMap `<name>-router`; the user-facing Service `<name>`
selects router pods; blue-green adds Service `<name>-preview`. Every object carries an owner
reference to the ModelRollout so deleting it deletes them.

Router pods, managed or sidecar, carry the label `modelrollout.io/router: <name>` and a
container port named `mr-admin`; the headless Service `<name>-router` selects them by that
label, so its EndpointSlices list every ready router's admin address in either mode.

The sidecar, for `spec.router.mode: sidecar`, goes into the pods that call the model:

```yaml
metadata:
  labels:
    modelrollout.io/router: <name>          # the controller finds and polls the pod by this
spec:
  serviceAccountName: <name>-router         # or bind Role <name>-router to your own account
  containers:
    - name: modelrollout-router
      image: ghcr.io/modelrollout/modelrollout:0.1.0
      args: [router, --configmap, <namespace>/<name>-router,
             --listen, "127.0.0.1:15080", --admin-listen, "0.0.0.0:15090"]
      ports: [{name: mr-admin, containerPort: 15090}]
      readinessProbe: {httpGet: {path: /readyz, port: mr-admin}}
```
and the caller sends its requests to `http://127.0.0.1:15080`. `sidecar_container` builds
exactly this container; the sidecar injector (`webhook_inject`) adds it, the label and the
account to Pods labelled `modelrollout.io/inject: <name>`, and `kubectl modelrollout sidecar`
prints them for those who write Pods by hand.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.api.resource import API_VERSION, KIND, ModelRollout
from controller.kube.quantities import quantities_as_strings

__all__ = [
    "reference_configmap",
    "LABEL_ROLLOUT",
    "LABEL_REVISION",
    "LABEL_COMPONENT",
    "LABEL_ROUTER",
    "ROUTER_CONFIG_KEY",
    "DEFAULT_ROUTER_IMAGE",
    "ROUTER_DATA_PORT",
    "ROUTER_ADMIN_PORT",
    "revision_name",
    "router_name",
    "preview_name",
    "owner_reference",
    "revision_deployment",
    "revision_service",
    "router_configmap",
    "router_deployment",
    "router_service_account",
    "router_role",
    "router_role_binding",
    "rollout_service",
    "preview_service",
    "router_admin_service",
    "sidecar_container",
    "ADMIN_PORT_NAME",
    "SIDECAR_DATA_PORT",
    "SIDECAR_ADMIN_PORT",
]

LABEL_ROLLOUT = "modelrollout.io/rollout"
LABEL_REVISION = "modelrollout.io/revision"
LABEL_COMPONENT = "modelrollout.io/component"
# Every router pod (managed Deployment or a user's pod with the sidecar) carries this label.
LABEL_ROUTER = "modelrollout.io/router"
ROUTER_CONFIG_KEY = "router.json"
DEFAULT_ROUTER_IMAGE = "ghcr.io/modelrollout/modelrollout:0.1.0"
ROUTER_DATA_PORT = 8080
ROUTER_ADMIN_PORT = 9090
SIDECAR_DATA_PORT = 15080
SIDECAR_ADMIN_PORT = 15090
# The router container's admin port, by name, in the managed Deployment and in every sidecar.
ADMIN_PORT_NAME = "mr-admin"


def revision_name(rollout: ModelRollout, revision: str) -> str:
    return f"{rollout.name}-{revision}"


def router_name(rollout: ModelRollout) -> str:
    return f"{rollout.name}-router"


def preview_name(rollout: ModelRollout) -> str:
    return f"{rollout.name}-preview"


def owner_reference(rollout: ModelRollout) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": rollout.name,
        "uid": rollout.metadata.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(rollout: ModelRollout, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": rollout.namespace,
        "labels": {LABEL_ROLLOUT: rollout.name, "app.kubernetes.io/managed-by": "modelrollout", **labels},
        "ownerReferences": [owner_reference(rollout)],
    }


def revision_deployment(rollout: ModelRollout, revision: str, template: dict[str, Any], replicas: int) -> dict[str, Any]:
    selector = {LABEL_ROLLOUT: rollout.name, LABEL_REVISION: revision}
    pod = quantities_as_strings(copy.deepcopy(template))
    pod.setdefault("metadata", {}).setdefault("labels", {}).update({**selector, LABEL_COMPONENT: "model"})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(rollout, revision_name(rollout, revision), {LABEL_REVISION: revision, LABEL_COMPONENT: "model"}),
        "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": pod},
    }


def _ports(rollout: ModelRollout, target_from_spec: bool) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "port": p.port, "targetPort": p.target_port if target_from_spec else ROUTER_DATA_PORT, "protocol": "TCP"}
        for p in rollout.spec.service.ports
    ]


def revision_service(rollout: ModelRollout, revision: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(rollout, revision_name(rollout, revision), {LABEL_REVISION: revision, LABEL_COMPONENT: "model"}),
        "spec": {"selector": {LABEL_ROLLOUT: rollout.name, LABEL_REVISION: revision}, "ports": _ports(rollout, True)},
    }


def router_configmap(rollout: ModelRollout, config_json: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(rollout, router_name(rollout), {LABEL_COMPONENT: "router"}),
        "data": {ROUTER_CONFIG_KEY: config_json},
    }


def reference_configmap(rollout: ModelRollout, name: str, key: str, reference_json: str) -> dict[str, Any]:
    """The monitored model's live reference (engine/monitoring.py), owned by the rollout."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(rollout, name, {LABEL_COMPONENT: "reference"}),
        "data": {key: reference_json},
    }


def _router_container(rollout: ModelRollout, name: str, listen: str, admin_port: int, default_image: str) -> dict[str, Any]:
    spec = rollout.spec.router
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image or default_image,
        "args": [
            "router",
            "--configmap", f"{rollout.namespace}/{router_name(rollout)}",
            "--listen", listen,
            "--admin-listen", f"0.0.0.0:{admin_port}",
        ],
        "ports": [{"name": ADMIN_PORT_NAME, "containerPort": admin_port}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": ADMIN_PORT_NAME}, "periodSeconds": 2},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": ADMIN_PORT_NAME}, "periodSeconds": 10},
        # The restricted Pod Security Standard, so a sidecar never makes a compliant caller Pod non-compliant.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if spec.resources:
        container["resources"] = quantities_as_strings(spec.resources)
    # Only when set, so routers of rollouts that set neither keep the pod template they had.
    if spec.log_format != "text":
        container["args"] += ["--log-format", spec.log_format]
    if spec.access_log_sample > 0:
        container["args"] += ["--access-log-sample", f"{spec.access_log_sample:g}"]
    return container


def sidecar_container(rollout: ModelRollout, default_image: str = DEFAULT_ROUTER_IMAGE) -> dict[str, Any]:
    """The router container users add to the pods that call the model (`spec.router.mode: sidecar`).

    `default_image` is the controller's router image, for rollouts that set no `spec.router.image`.
    """
    return _router_container(rollout, "modelrollout-router", f"127.0.0.1:{SIDECAR_DATA_PORT}", SIDECAR_ADMIN_PORT, default_image)


def router_deployment(rollout: ModelRollout, default_image: str = DEFAULT_ROUTER_IMAGE) -> dict[str, Any]:
    spec = rollout.spec.router
    labels = {LABEL_ROUTER: rollout.name, LABEL_COMPONENT: "router"}
    container = _router_container(rollout, "router", f"0.0.0.0:{ROUTER_DATA_PORT}", ROUTER_ADMIN_PORT, default_image)
    container["ports"].insert(0, {"name": "data", "containerPort": ROUTER_DATA_PORT})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(rollout, router_name(rollout), labels),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": {LABEL_ROUTER: rollout.name}},
            "template": {
                "metadata": {"labels": {LABEL_ROLLOUT: rollout.name, **labels}},
                "spec": {"serviceAccountName": router_name(rollout), "containers": [container]},
            },
        },
    }


def router_service_account(rollout: ModelRollout) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(rollout, router_name(rollout), {LABEL_COMPONENT: "router"}),
    }


def router_role(rollout: ModelRollout) -> dict[str, Any]:
    """Routers may read and watch their own ConfigMap, by name, and nothing else."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(rollout, router_name(rollout), {LABEL_COMPONENT: "router"}),
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [router_name(rollout)], "verbs": ["get", "watch", "list"]}
        ],
    }


def router_role_binding(rollout: ModelRollout) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(rollout, router_name(rollout), {LABEL_COMPONENT: "router"}),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": router_name(rollout)},
        "subjects": [{"kind": "ServiceAccount", "name": router_name(rollout), "namespace": rollout.namespace}],
    }


def rollout_service(rollout: ModelRollout, stable_revision: str | None = None) -> dict[str, Any]:
    """The Service clients call: it selects router pods, whatever the revisions behind them.

    With sidecar routers there is no router behind a Service: callers with the sidecar go
    through localhost, and this Service takes the others straight to the stable revision.
    """
    if rollout.spec.router.mode == "sidecar" and stable_revision is not None:
        spec = {"selector": {LABEL_ROLLOUT: rollout.name, LABEL_REVISION: stable_revision}, "ports": _ports(rollout, True)}
    else:
        spec = {"selector": {LABEL_ROUTER: rollout.name}, "ports": _ports(rollout, False)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(rollout, rollout.name, {LABEL_COMPONENT: "entry"}),
        "spec": spec,
    }


def router_admin_service(rollout: ModelRollout) -> dict[str, Any]:
    """Headless: never called by clients, it exists so its EndpointSlices list ready router pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(rollout, router_name(rollout), {LABEL_COMPONENT: "router"}),
        "spec": {
            "clusterIP": "None",
            "selector": {LABEL_ROUTER: rollout.name},
            "ports": [{"name": "admin", "port": ROUTER_ADMIN_PORT, "targetPort": ADMIN_PORT_NAME, "protocol": "TCP"}],
            "publishNotReadyAddresses": False,
        },
    }


def preview_service(rollout: ModelRollout, revision: str) -> dict[str, Any]:
    """Blue-green: the candidate at full size, reachable before it takes live traffic."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(rollout, preview_name(rollout), {LABEL_COMPONENT: "preview", LABEL_REVISION: revision}),
        "spec": {"selector": {LABEL_ROLLOUT: rollout.name, LABEL_REVISION: revision}, "ports": _ports(rollout, True)},
    }
