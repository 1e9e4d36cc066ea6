"""Which namespaces the dashboard shows a caller who may not list ModelRollouts cluster-wide, on a real API server's RBAC."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.dashboard.server import visible_namespaces
from controller.kube.client import KubeClient, load_configuration
from tests.controlplane import ControlPlane
from tests.controlplane.apply import create_or_replace
from tests.integration.realkube.realkit import apply_crd, can, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def namespaces(control_plane: ControlPlane) -> Iterator[list[str]]:
    names = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    with control_plane.api_client() as admin:
        apply_crd(admin)
        for name in names:
            k8s.CoreV1Api(admin).create_namespace({"metadata": {"name": name}})
        try:
            yield names
        finally:
            for name in names:
                k8s.CoreV1Api(admin).delete_namespace(name)


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def _binding(kind: str, name: str, role: str, account: str, home: str, namespace: str | None = None) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}
    subjects = [{"kind": "ServiceAccount", "name": account, "namespace": home}]
    return {"apiVersion": RBAC, "kind": kind, "metadata": metadata, "roleRef": role_ref, "subjects": subjects}


async def _shown(control_plane: ControlPlane, home: str, account: str, workdir: Path) -> tuple[str, ...]:
    client = KubeClient(
        load_configuration(str(control_plane.token_kubeconfig(workdir / f"{account}.kubeconfig", home, account))), threads=2
    )
    try:
        return await visible_namespaces(client, (), home)
    finally:
        client.close()


async def test_a_caller_sees_the_namespaces_whose_rollouts_it_may_list(
    control_plane: ControlPlane, namespaces: list[str], tmp_path: Path
) -> None:
    home, other, hidden = namespaces
    tag = home
    with control_plane.api_client() as admin:
        for account in ("viewer", "confined"):
            create_or_replace(admin, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account, "namespace": home}})
        reader = [{"apiGroups": ["modelrollout.io"], "resources": ["modelrollouts"], "verbs": ["get", "list", "watch"]}]
        create_or_replace(admin, _cluster_role(f"{tag}-reader", reader))
        create_or_replace(admin, _cluster_role(f"{tag}-namespaces", [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]))
        create_or_replace(admin, _binding("ClusterRoleBinding", f"{tag}-namespaces", f"{tag}-namespaces", "viewer", home))
        for namespace in (home, other):
            for account in ("viewer", "confined"):
                create_or_replace(admin, _binding("RoleBinding", f"{account}-reader", f"{tag}-reader", account, home, namespace))
    try:
        for account in ("viewer", "confined"):
            user = f"system:serviceaccount:{home}:{account}"
            bound = lambda u=user: can(control_plane, u, other, "list", "modelrollouts", "modelrollout.io")  # noqa: E731
            wait_until(f"{account}'s bindings in force", bound)
        wait_until(
            "viewer may list namespaces", lambda: can(control_plane, f"system:serviceaccount:{home}:viewer", "", "list", "namespaces")
        )

        shown = await _shown(control_plane, home, "viewer", tmp_path)
        assert set(shown) == {home, other} and hidden not in shown
        # Without the right to list namespaces, only the kubeconfig's own is known.
        assert await _shown(control_plane, home, "confined", tmp_path) == (home,)
    finally:
        with control_plane.api_client() as admin:
            rbac = k8s.RbacAuthorizationV1Api(admin)
            rbac.delete_cluster_role_binding(f"{tag}-namespaces")
            rbac.delete_cluster_role(f"{tag}-namespaces")
            rbac.delete_cluster_role(f"{tag}-reader")
