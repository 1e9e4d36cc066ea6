"""A steady rollout on a real API server costs no writes: live objects are compared as the server keeps them.

The API server does not keep everything it is sent: a field holding its zero value that the
server omits (`publishNotReadyAddresses: false`, an empty list) is gone from the live object,
and quantities come back in canonical form (`cpu: 0.5` is kept as `500m`). A controller that
compares the live object with what it sent sees a difference on every reconcile and patches
again each time; the stand-in keeps whatever it is sent, so only a real server shows it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import GROUP, PLURAL, VERSION
from controller.kube.client import KubeClient, load_configuration
from controller.kube.manager import Controller
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import async_wait_until, audit_requests
from tests.loopnode import LoopbackNode

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NAME = "iris"
WRITES = {"create", "update", "patch", "delete"}
# What the controller owns and ensures on every reconcile, and the rollout itself.
OWNED = {"deployments", "services", "configmaps", "serviceaccounts", "roles", "rolebindings", "modelrollouts"}
# Reconciles come often in steady state (a resync a second), so a few seconds see several of them.
STEADY = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=0.5, idle_resync_s=0.5)
WINDOW_S = 4.0


def _document(namespace: str) -> dict[str, Any]:
    # Quantities as people write them, strings and plain numbers, which the server keeps in
    # canonical form (0.5 -> 500m, 1024Mi -> 1Gi), and an empty list, which it drops.
    container = {
        "name": "model", "image": "model:v1", "args": [],
        "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "2Gi"}},
    }  # fmt: skip
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"app": "demo"}}, "spec": {"containers": [container]}},
            "service": {"ports": [{"port": 80, "targetPort": 8080}]},
            "router": {"resources": {"requests": {"cpu": "100m", "memory": "0.25G"}}},
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 100}]}},
        },
    }


@dataclass
class Running:
    controller: Controller
    task: asyncio.Task[None]
    stop: asyncio.Event
    client: KubeClient

    def reconciles(self) -> float:
        value = self.controller.metrics.registry.get_sample_value("modelrollout_reconciles_total", {"result": "success"})
        return value or 0.0


@pytest.fixture
def node(control_plane: ControlPlane, real_namespace: str) -> Iterator[LoopbackNode]:
    with control_plane.api_client() as api_client, LoopbackNode(api_client, namespaces=[real_namespace]) as running:
        yield running


@pytest.fixture
async def controller(control_plane: ControlPlane, real_namespace: str, crd: None, node: LoopbackNode) -> AsyncIterator[Running]:
    client = KubeClient(load_configuration(str(control_plane.kubeconfig_path)), threads=4)
    config = ControllerConfig(namespaces=(real_namespace,), workers=2, cadence=STEADY, identity="steady", drain_s=2.0, router_timeout_s=0.5)
    controller = Controller(client, config, Adapters())
    stop = asyncio.Event()
    running = Running(controller, asyncio.create_task(controller.run(stop)), stop, client)
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(running.task, 15)
        client.close()


def _mark(control_plane: ControlPlane, namespace: str) -> str:
    """A request of the test's own that is easy to find in the audit log: a read of a ConfigMap nobody has."""
    name = f"audit-mark-{uuid.uuid4().hex[:8]}"
    with control_plane.api_client() as api_client:
        try:
            k8s.CoreV1Api(api_client).read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
    return name


def _writes_between(control_plane: ControlPlane, namespace: str, start: str, end: str) -> tuple[list[str]] | None:
    """(writes to owned objects after the `start` mark and before the `end` one,); None until `end` is logged."""
    requests = list(audit_requests(control_plane, namespace=namespace))
    names = [r["objectRef"].get("name") for r in requests]
    if end not in names:
        return None
    between = requests[names.index(start) + 1 : names.index(end)]
    return ([
        f"{r['verb']} {r['objectRef']['resource']}{'/' + r['objectRef']['subresource'] if r['objectRef'].get('subresource') else ''} "
        f"{r['objectRef'].get('name')}"
        for r in between
        if r["verb"] in WRITES and r["objectRef"].get("resource") in OWNED
    ],)


def _rollout(control_plane: ControlPlane, namespace: str) -> dict[str, Any]:
    with control_plane.api_client() as api_client:
        found: dict[str, Any] = k8s.CustomObjectsApi(api_client).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, NAME)
    return found


def _available(control_plane: ControlPlane, namespace: str) -> bool:
    with control_plane.api_client() as api_client:
        deployments = k8s.AppsV1Api(api_client).list_namespaced_deployment(namespace).items
    return len(deployments) >= 2 and all((d.status.available_replicas or 0) == d.spec.replicas for d in deployments)


async def test_a_healthy_rollout_costs_no_writes_to_its_objects_on_a_real_server(
    control_plane: ControlPlane, real_namespace: str, controller: Running
) -> None:
    with control_plane.api_client() as api_client:
        k8s.CustomObjectsApi(api_client).create_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, _document(real_namespace))
    status = lambda: _rollout(control_plane, real_namespace).get("status") or {}  # noqa: E731
    await async_wait_until("the rollout Healthy on its first revision",
                           lambda: status().get("phase") == "Healthy" and status().get("stableRevision"), timeout_s=60)  # fmt: skip
    await async_wait_until("every Deployment available", lambda: _available(control_plane, real_namespace), timeout_s=60)

    start, reconciled = _mark(control_plane, real_namespace), controller.reconciles()
    await asyncio.sleep(WINDOW_S)  # a fixed window of steady state: nothing may be written in it
    end, reconciles = _mark(control_plane, real_namespace), controller.reconciles() - reconciled
    (writes,) = await async_wait_until("the end mark in the audit log", lambda: _writes_between(control_plane, real_namespace, start, end))

    assert reconciles >= 3, f"only {reconciles:.0f} reconciles in {WINDOW_S}s of steady state: the window proves nothing"
    assert writes == [], f"{len(writes)} writes in {WINDOW_S}s of steady state ({reconciles:.0f} reconciles): {sorted(set(writes))}"
