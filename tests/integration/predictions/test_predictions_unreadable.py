"""`predictions.protocol: kserve-v1` before a model that speaks OIP v2, through the operator:
PredictionsReadable=False with a Warning Event naming the setting and what the answers look like;
both clear once the setting is corrected and the answers are read again.

Runs on the API stand-in with one real router process (listed in an EndpointSlice at a pod-range
address mapped back to loopback) before one real model server that answers OIP v2; the test
sends the traffic through the router's data port itself.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION, ModelRollout
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.processes import ProcessGroup, free_port, wait_http_ok
from tests.fakekube import FakeKube
from tests.integration.kube.listing import reach_router, running_controller, start_listed_router

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NAMESPACE = "models"
NAME = "iris"
FAST = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=1.0, idle_resync_s=1.0)
WAIT_S = 60.0  # generous: these tests must pass with one of two cores kept busy
BACKEND = Path(__file__).parents[1] / "router" / "backend_app.py"
OIP_SHAPE = '{"model_name": ..., "outputs": ...}'
OIP_REQUEST = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.42]}]}


def document(protocol: str) -> dict[str, Any]:
    container = {"name": "model", "image": "model:v1"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": 1,
            "template": {"metadata": {"labels": {"app": "iris"}}, "spec": {"containers": [container]}},
            "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
            "router": {"predictions": {"protocol": protocol}},
        },
    }


@dataclass
class Cluster:
    api: k8s.CustomObjectsApi
    core: k8s.CoreV1Api
    data_url: str

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
        return found.get("status") or {}

    def condition(self, kind: str) -> dict[str, Any]:
        return next((c for c in self.status().get("conditions", []) if c["type"] == kind), {})

    def events(self, reason: str) -> list[Any]:
        return [e for e in self.core.list_namespaced_event(NAMESPACE).items if e.reason == reason]

    async def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
        """`check()`'s first truthy answer, with a few model calls through the router between tries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=5) as client:
            while loop.time() < deadline:
                for _ in range(5):
                    await client.post(f"{self.data_url}/v2/models/iris/infer", json=OIP_REQUEST)
                answer = await asyncio.to_thread(check)
                if answer:
                    return answer
                await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; status: {self.status()}")


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube(ready_after_s=0.1, namespaces=(NAMESPACE,)) as running:
        yield running


async def start_model(processes: ProcessGroup) -> str:
    port = free_port()
    member = processes.start("model", [sys.executable, str(BACKEND), "--port", str(port), "--name", "stable"])
    await wait_http_ok(f"http://127.0.0.1:{port}/text", WAIT_S, member.process)
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def cluster(kube: FakeKube, processes: ProcessGroup) -> AsyncIterator[Cluster]:
    model = await start_model(processes)
    config = ControllerConfig(namespaces=(NAMESPACE,), workers=2, cadence=FAST, identity="predictions", drain_s=2.0, router_timeout_s=1.0)

    def upstream(rollout: ModelRollout, revision: str) -> str:
        return model

    with kube.api_client() as admin:
        async with running_controller(kube.kubeconfig_path, config, Adapters(upstream=upstream, router_address=reach_router)):
            data_url = await start_listed_router(processes, kube.kubeconfig_path, admin, NAMESPACE, NAME, WAIT_S)
            yield Cluster(k8s.CustomObjectsApi(admin), k8s.CoreV1Api(admin), data_url)


async def test_a_protocol_setting_that_reads_nothing_is_a_condition_and_a_warning_until_corrected(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.api.create_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, document("kserve-v1"))
    await cluster.wait_for("the routers serving it", lambda: cluster.condition("TrafficApplied").get("status") == "True")

    unreadable = await cluster.wait_for(
        "PredictionsReadable=False", lambda: (c := cluster.condition("PredictionsReadable")).get("status") == "False" and c
    )
    assert unreadable["reason"] == "PredictionsUnreadable"
    assert "spec.router.predictions.protocol: kserve-v1" in unreadable["message"]
    assert f"answers look like {OIP_SHAPE}" in unreadable["message"]
    (warning,) = await cluster.wait_for("the Warning Event", lambda: cluster.events("PredictionsUnreadable"))
    assert warning.type == "Warning" and "spec.router.predictions.protocol: kserve-v1" in warning.message
    assert OIP_SHAPE in warning.message and "0.42" not in warning.message
    assert cluster.status()["phase"] == "Healthy"  # it still routes: only the analysis sees nothing

    await asyncio.to_thread(
        cluster.api.patch_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": document("oip-v2")["spec"]}
    )
    readable = await cluster.wait_for(
        "PredictionsReadable=True", lambda: (c := cluster.condition("PredictionsReadable")).get("status") == "True" and c
    )
    assert readable["reason"] == "PredictionsReadable" and "protocol: oip-v2" in readable["message"]
    (recovered,) = await cluster.wait_for("the Normal Event", lambda: cluster.events("PredictionsReadable"))
    assert recovered.type == "Normal"
    assert len(cluster.events("PredictionsUnreadable")) == 1
