"""Events under install.yaml's own RBAC on a real API server: a repeated Event is counted, not refused.

The stand-in enforces no RBAC, so only a real server shows whether the ClusterRole lets the
controller do what `KubeEventSink` does: create, and on AlreadyExists get the live Event and
patch its count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.engine.actions import EmitEvent
from controller.kube.client import KubeClient, load_configuration
from controller.kube.events import KubeEventSink, event_name
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import (
    CONTROLLER_ACCOUNT,
    CONTROLLER_NAMESPACE,
    CONTROLLER_USER,
    apply_controller_rbac,
    async_wait_until,
    audit_requests,
    can,
    create_rollout,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _event_requests(control_plane: ControlPlane, namespace: str) -> list[dict[str, Any]]:
    return [
        e for e in audit_requests(control_plane, namespace=namespace, user=CONTROLLER_USER) if e["objectRef"].get("resource") == "events"
    ]


async def test_a_repeated_event_is_counted_on_one_event_under_install_yaml_rbac(
    control_plane: ControlPlane, real_namespace: str, crd: None, tmp_path: Path
) -> None:
    apply_controller_rbac(control_plane)
    # The authorizer learns of a new binding from its cache: wait for a verb the role always had.
    await async_wait_until("the controller's ClusterRoleBinding to take effect",
                           lambda: can(control_plane, CONTROLLER_USER, real_namespace, "create", "events"))  # fmt: skip
    rollout = create_rollout(control_plane, real_namespace, "iris", service={"ports": [{"port": 80, "targetPort": 8080}]})
    event = EmitEvent(type="Warning", reason="AnalysisInconclusive", message="error-rate: candidate has 3 of 50 samples needed")

    kubeconfig = control_plane.token_kubeconfig(tmp_path / "controller.kubeconfig", CONTROLLER_NAMESPACE, CONTROLLER_ACCOUNT)
    client = KubeClient(load_configuration(str(kubeconfig)), threads=2)
    try:
        sink = KubeEventSink(client, lambda: datetime.now(UTC), "controller-0")
        await sink.emit(rollout, event)
        await sink.emit(rollout, event)  # the same event again: AlreadyExists, then get + patch
    finally:
        client.close()

    with control_plane.api_client() as admin:
        live = k8s.CoreV1Api(admin).read_namespaced_event(event_name(rollout, event), real_namespace)
    # The audit log is written as each request completes: wait until all three of the sink's
    # requests (create, create, and what followed the 409) are in before judging them.
    requests = await async_wait_until("the sink's requests in the audit log",
                                      lambda: (r := _event_requests(control_plane, real_namespace)) and len(r) >= 3 and r)  # fmt: skip
    refused = [(r["verb"], r["objectRef"].get("name")) for r in requests if r["responseStatus"]["code"] == 403]
    assert refused == [], f"the controller's ServiceAccount was refused: {refused}"
    assert live.count == 2, f"the repeated Event's count is {live.count}; expected 2"
    assert [r["verb"] for r in requests] == ["create", "create", "get", "patch"]
    assert [r["responseStatus"]["code"] for r in requests] == [201, 409, 200, 200]
