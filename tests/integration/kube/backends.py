"""The two API servers a Scene runs on: the in-memory stand-in, and a real control plane.

    StandIn       a FakeKube of its own per test; every client uses its one kubeconfig
    RealCluster   the session's ControlPlane with the CRD and install.yaml's RBAC applied once,
                  and a kubeconfig with the controller's ServiceAccount token
    Real          per test on a RealCluster: a namespace, and a LoopbackNode over it, so the
                  Deployments the controller makes get Pods that turn ready; routers read their
                  ConfigMap with the token of the `<name>-router` ServiceAccount

On both, the controller's Lease lives where install.yaml's Role grants it: the Lease
`modelrollout-controller` in `modelrollout-system`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.kube.objects import LABEL_COMPONENT
from tests.controlplane import ControlPlane
from tests.controlplane.apply import create_or_replace
from tests.fakekube import FakeKube
from tests.integration.kube.rest import Rest
from tests.integration.realkube.realkit import apply_crd, install_documents
from tests.loopnode import LoopbackNode, pod_key

__all__ = [
    "CONTROLLER_ACCOUNT",
    "CONTROLLER_USER",
    "LEASE_NAME",
    "LEASE_NAMESPACE",
    "Backend",
    "Real",
    "RealCluster",
    "RouterPodsUnready",
    "StandIn",
    "router_user",
]

LEASE_NAMESPACE = "modelrollout-system"  # install.yaml: the release namespace
LEASE_NAME = "modelrollout-controller"  # install.yaml: the only Lease its Role lets the controller get and update
CONTROLLER_ACCOUNT = "modelrollout-controller"
CONTROLLER_USER = f"system:serviceaccount:{LEASE_NAMESPACE}:{CONTROLLER_ACCOUNT}"
# What of install.yaml runs the controller: not its Deployment, which needs an image and a kubelet.
_INSTALLED_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def router_user(namespace: str, rollout: str) -> str:
    return f"system:serviceaccount:{namespace}:{rollout}-router"


class Backend(Protocol):
    """What a Scene needs of an API server: who it is, where things live, credentials."""

    name: str
    namespace: str
    admin: k8s.ApiClient

    def controller_kubeconfig(self) -> Path: ...
    def router_kubeconfig(self, rollout: str) -> Path: ...
    def close(self) -> None: ...


class StandIn:
    """A FakeKube of its own; it checks no credentials, so every client shares its kubeconfig."""

    name = "stand-in"

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # Deployments turn ready shortly after each change, as the deployment controller would make them.
        self.kube = FakeKube(ready_after_s=0.1, namespaces=(namespace, LEASE_NAMESPACE)).start()
        self.admin = self.kube.api_client()

    def controller_kubeconfig(self) -> Path:
        return self.kube.kubeconfig_path

    def router_kubeconfig(self, rollout: str) -> Path:
        return self.kube.kubeconfig_path

    def close(self) -> None:
        self.admin.close()
        self.kube.stop()


def _wait(what: str, check: Callable[[], Any], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.05)


class RealCluster:
    """The session's control plane, made ready to run the operator as install.yaml installs it."""

    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        self.plane = plane
        with plane.api_client() as admin:
            self._install(admin)
        # The authorizer learns of new bindings from its cache: wait until they are in force.
        _wait("install.yaml's RBAC in force",
              lambda: self.allowed(CONTROLLER_USER, "get", "leases", LEASE_NAMESPACE, "coordination.k8s.io", LEASE_NAME)
              and self.allowed(CONTROLLER_USER, "list", "modelrollouts", "default", "modelrollout.io"))  # fmt: skip
        self.controller_kubeconfig = plane.token_kubeconfig(workdir / "controller.kubeconfig", LEASE_NAMESPACE, CONTROLLER_ACCOUNT)

    @staticmethod
    def _install(admin: k8s.ApiClient) -> None:
        apply_crd(admin)
        documents = install_documents()
        for kind in _INSTALLED_KINDS:  # in an order that creates each object's namespace first
            for document in (d for d in documents if d["kind"] == kind):
                create_or_replace(admin, document)

    def allowed(self, user: str, verb: str, resource: str, namespace: str, group: str = "", name: str = "") -> bool:
        """The API server's authorizer on `user` (a ServiceAccount) doing `verb` now: a SubjectAccessReview."""
        account_namespace = user.split(":")[2]
        attributes = {"namespace": namespace, "verb": verb, "resource": resource, "group": group, "name": name}
        review = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user,
                     "groups": ["system:serviceaccounts", f"system:serviceaccounts:{account_namespace}", "system:authenticated"],
                     "resourceAttributes": attributes},
        }  # fmt: skip
        with self.plane.api_client() as admin:
            return bool(k8s.AuthorizationV1Api(admin).create_subject_access_review(review).status.allowed)


class RouterPodsUnready:
    """A LoopbackNode runtime: a router Deployment's Pods are never ready, every other Pod at once.

    Nothing runs the router image here: the Scene's router processes stand in for those Pods,
    listed in EndpointSlices of their own. A router Pod reported ready would be listed by the
    endpoint-slice controller at an address where nothing answers."""

    def __init__(self) -> None:
        self._routers: set[str] = set()

    def start(self, pod: dict[str, Any], ip: str) -> None:
        if (pod["metadata"].get("labels") or {}).get(LABEL_COMPONENT) == "router":
            self._routers.add(pod_key(pod))

    def ready(self, key: str) -> bool:
        return key not in self._routers

    def stop(self, key: str) -> None:
        self._routers.discard(key)


class Real:
    """One test's share of the real control plane: its namespace and a node for its Pods."""

    name = "real"

    def __init__(self, cluster: RealCluster, namespace: str, workdir: Path) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self._workdir = workdir
        self.admin = cluster.plane.api_client()
        # A Lease left held by an earlier test's killed controller would make this test wait out its duration.
        with contextlib.suppress(ApiException):
            k8s.CoordinationV1Api(self.admin).delete_namespaced_lease(LEASE_NAME, LEASE_NAMESPACE)
        self.node = LoopbackNode(self.admin, name=f"loopback-{namespace}", namespaces=[namespace], runtime=RouterPodsUnready()).start()

    def controller_kubeconfig(self) -> Path:
        return self.cluster.controller_kubeconfig

    def router_kubeconfig(self, rollout: str) -> Path:
        """A token of the `<rollout>-router` ServiceAccount, which the controller creates with the rollout.

        Given once the authorizer lets that account read its ConfigMap, so a router started here is
        not refused for a RoleBinding the authorizer's cache has yet to see: the test of refusals
        judges the Roles, not that delay."""
        account = f"{rollout}-router"
        user = f"system:serviceaccount:{self.namespace}:{account}"
        _wait(f"ServiceAccount {account}", lambda: Rest(self.admin).get("serviceaccounts", self.namespace, account) is not None)
        _wait(f"{account}'s Role in force", lambda: self.cluster.allowed(user, "watch", "configmaps", self.namespace, name=account))
        return self.cluster.plane.token_kubeconfig(self._workdir / f"{account}.kubeconfig", self.namespace, account)

    def close(self) -> None:
        self.node.stop()
        with contextlib.suppress(ApiException):
            k8s.CoreV1Api(self.admin).delete_node(self.node.name)
        self.admin.close()
