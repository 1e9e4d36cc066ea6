"""The scale subresource on a real API server: `kubectl scale mr`, an HPA, and a canary resized mid-rollout.

The controller runs in-process as the admin. One real router process stands in for the router
Deployment's Pods (which the loopback node keeps unready, as nothing runs their image here): it
is listed in an EndpointSlice of its own at a pod-range address that the controller's
`router_address` adapter maps back to loopback, and it confirms each split as a router does.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import GROUP, PLURAL, VERSION, ModelRollout, revision_of
from controller.kube.manager import Controller
from controller.kube.objects import LABEL_COMPONENT, LABEL_ROLLOUT
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.processes import ProcessGroup
from tests.controlplane import ControlPlane
from tests.integration.kube.backends import RouterPodsUnready
from tests.integration.kube.listing import reach_router, running_controller, start_listed_router
from tests.integration.realkube.realkit import async_wait_until, audit_requests
from tests.loopnode import LoopbackNode

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NAME = "iris"
SELECTOR = f"{LABEL_ROLLOUT}={NAME},{LABEL_COMPONENT}=model"
# Quick resyncs, so twenty reconciles of a paused rollout take seconds.
QUICK = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=0.2, idle_resync_s=0.5)
# Generous: these tests must pass with one of two cores kept busy.
WAIT_S = 90.0


def template(version: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "iris"}}, "spec": {"containers": [{"name": "model", "image": f"model:{version}"}]}}


def document(namespace: str, replicas: int, version: str = "v1") -> dict[str, Any]:
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 100}]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"replicas": replicas, "template": template(version), "strategy": {"canary": {"steps": steps}}},
    }


def nowhere(rollout: ModelRollout, revision: str) -> str:
    """No traffic is sent here: the routers only need an upstream in their config."""
    return "http://127.0.0.1:9"


@dataclass
class Scaled:
    plane: ControlPlane
    namespace: str
    controller: Controller
    custom: k8s.CustomObjectsApi
    apps: k8s.AppsV1Api
    core: k8s.CoreV1Api

    def rollout(self) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, NAME)
        return found

    def status(self) -> dict[str, Any]:
        return self.rollout().get("status") or {}

    def deployment_replicas(self, version: str) -> int | None:
        name = f"{NAME}-{revision_of(template(version))}"
        found = [d for d in self.apps.list_namespaced_deployment(self.namespace).items if d.metadata.name == name]
        return found[0].spec.replicas if found else None

    def kubectl(self, *args: str) -> str:
        argv = ["kubectl", f"--kubeconfig={self.plane.kubeconfig_path}", "-n", self.namespace, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
        return done.stdout

    def reconciles(self) -> float:
        value = self.controller.metrics.registry.get_sample_value("modelrollout_reconciles_total", {"result": "success"})
        return value or 0.0


async def _wait(what: str, check: Any) -> Any:
    return await async_wait_until(what, check, WAIT_S)


@pytest.fixture
def node(control_plane: ControlPlane, real_namespace: str) -> Iterator[LoopbackNode]:
    with (
        control_plane.api_client() as api_client,
        LoopbackNode(api_client, namespaces=[real_namespace], runtime=RouterPodsUnready()) as running,
    ):
        yield running


@pytest.fixture
async def scaled(control_plane: ControlPlane, real_namespace: str, crd: None, node: LoopbackNode) -> AsyncIterator[Scaled]:
    config = ControllerConfig(namespaces=(real_namespace,), workers=2, cadence=QUICK, identity="scale", drain_s=2.0, router_timeout_s=1.0)
    adapters = Adapters(upstream=nowhere, router_address=reach_router)
    with control_plane.api_client() as admin:
        async with running_controller(control_plane.kubeconfig_path, config, adapters) as controller:
            yield Scaled(control_plane, real_namespace, controller, k8s.CustomObjectsApi(admin), k8s.AppsV1Api(admin), k8s.CoreV1Api(admin))


def hpa(minimum: int, maximum: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": NAME},
        "spec": {
            "scaleTargetRef": {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelRollout", "name": NAME},
            "minReplicas": minimum,
            "maxReplicas": maximum,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }


async def test_kubectl_scale_and_an_hpa_set_a_modelrollouts_replicas(scaled: Scaled) -> None:
    await asyncio.to_thread(
        scaled.custom.create_namespaced_custom_object, GROUP, VERSION, scaled.namespace, PLURAL, document(scaled.namespace, 2)
    )
    await _wait(
        "the rollout Healthy with 2 ready pods", lambda: (s := scaled.status()).get("phase") == "Healthy" and s.get("readyReplicas") == 2
    )
    assert (scaled.status()["replicas"], scaled.status()["selector"]) == (2, SELECTOR)

    out = await asyncio.to_thread(scaled.kubectl, "scale", "mr", NAME, "--replicas", "3")
    assert "scaled" in out
    await _wait("the stable Deployment at 3", lambda: scaled.deployment_replicas("v1") == 3)
    await _wait("3 ready pods in status", lambda: scaled.status().get("readyReplicas") == 3)
    scale = await asyncio.to_thread(
        scaled.kubectl, "get", "--raw", f"/apis/{GROUP}/{VERSION}/namespaces/{scaled.namespace}/{PLURAL}/{NAME}/scale"
    )
    assert '"selector":"' + SELECTOR + '"' in scale and '"replicas":3' in scale

    # An HPA on the ModelRollout itself: accepted, and the real HPA controller scales it up to its minimum.
    with scaled.plane.api_client() as api_client:
        autoscaling = k8s.AutoscalingV2Api(api_client)
        await asyncio.to_thread(autoscaling.create_namespaced_horizontal_pod_autoscaler, scaled.namespace, hpa(4, 6))
        await _wait("the HPA to set spec.replicas to its minimum", lambda: scaled.rollout()["spec"]["replicas"] == 4)
        await _wait("the stable Deployment to follow", lambda: scaled.deployment_replicas("v1") == 4)

        def able_to_scale() -> bool:
            conditions = autoscaling.read_namespaced_horizontal_pod_autoscaler(NAME, scaled.namespace).status.conditions or []
            return any(c.type == "AbleToScale" and c.status == "True" for c in conditions)

        await _wait("the HPA AbleToScale", able_to_scale)
        await asyncio.to_thread(autoscaling.delete_namespaced_horizontal_pod_autoscaler, NAME, scaled.namespace)


async def test_a_canary_scaled_mid_rollout_keeps_its_split_and_its_replicas_settle(
    scaled: Scaled, processes: ProcessGroup
) -> None:
    with scaled.plane.api_client() as admin:
        await start_listed_router(processes, scaled.plane.kubeconfig_path, admin, scaled.namespace, NAME, WAIT_S)
    await asyncio.to_thread(
        scaled.custom.create_namespaced_custom_object, GROUP, VERSION, scaled.namespace, PLURAL, document(scaled.namespace, 4)
    )
    await _wait("Healthy, the routers serving it", lambda: (s := scaled.status()).get("phase") == "Healthy" and _traffic_applied(s))
    patch = {"spec": {"template": template("v2")}}
    await asyncio.to_thread(scaled.custom.patch_namespaced_custom_object, GROUP, VERSION, scaled.namespace, PLURAL, NAME, patch)
    await _wait("paused at 25%", lambda: (s := scaled.status()).get("phase") == "Paused" and s.get("currentStep") == 1)
    split = scaled.status()["traffic"]
    assert split["candidate"] == 25
    assert (scaled.deployment_replicas("v1"), scaled.deployment_replicas("v2")) == (4, 1)  # ceil(25% of 4)

    await asyncio.to_thread(scaled.kubectl, "scale", "mr", NAME, "--replicas", "8")
    await _wait("8 stable and 2 candidate pods", lambda: (scaled.deployment_replicas("v1"), scaled.deployment_replicas("v2")) == (8, 2))
    await _wait("every pod ready in status", lambda: scaled.status().get("readyReplicas") == 10)

    start, before = _mark(scaled), scaled.reconciles()
    await _wait("20 more reconciles", lambda: scaled.reconciles() - before >= 20)
    end = _mark(scaled)
    writes = await _wait("the end mark in the audit log", lambda: _deployment_writes(scaled, start, end))
    status = scaled.status()
    assert writes == ([],), f"revision replicas rewritten while settled: {writes[0]}"
    assert (status["traffic"], status["currentStep"], status["phase"]) == (split, 1, "Paused")
    assert (scaled.deployment_replicas("v1"), scaled.deployment_replicas("v2")) == (8, 2)
    assert (status["replicas"], status["selector"]) == (10, SELECTOR)


def _traffic_applied(status: dict[str, Any]) -> bool:
    return any(c["type"] == "TrafficApplied" and c["status"] == "True" for c in status.get("conditions", []))


def _mark(scaled: Scaled) -> str:
    """A request of the test's own, easy to find in the audit log: a read of a ConfigMap nobody has."""
    name = f"audit-mark-{uuid.uuid4().hex[:8]}"
    try:
        scaled.core.read_namespaced_config_map(name, scaled.namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
    return name


def _deployment_writes(scaled: Scaled, start: str, end: str) -> tuple[list[str]] | None:
    """(writes to Deployments between the marks,); None until the end mark is logged."""
    requests = list(audit_requests(scaled.plane, namespace=scaled.namespace))
    names = [r["objectRef"].get("name") for r in requests]
    if end not in names:
        return None
    between = requests[names.index(start) + 1 : names.index(end)]
    return ([f"{r['verb']} {r['objectRef'].get('name')}" for r in between
             if r["verb"] in {"create", "update", "patch"} and r["objectRef"].get("resource") == "deployments"],)  # fmt: skip
