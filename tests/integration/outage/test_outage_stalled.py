"""A metrics webhook that stays down, through the operator: held, Stalled with the provider's message, a
Warning Event and a metric; all three clear when it answers, and the rollout goes on to promotion.

Runs on the API stand-in with one real router process (the routers must confirm the split before
anything is measured), listed in an EndpointSlice at a pod-range address the controller's
`router_address` adapter maps back to loopback. The webhook's port is chosen free and left
unanswered (connection refused) until the test starts a server on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION, ModelRollout
from controller.kube.manager import Controller
from controller.kube.timers import Cadence
from controller.kube.wiring import Adapters, ControllerConfig
from controller.local.processes import ProcessGroup, free_port
from tests.fakekube import FakeKube
from tests.integration.kube.listing import reach_router, running_controller, start_listed_router
from tests.integration.realkube.realkit import async_wait_until

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

NAMESPACE = "models"
NAME = "iris"
FAST = Cadence(router_poll_s=0.2, idle_router_poll_s=0.5, progressing_resync_s=2.0, idle_resync_s=5.0)
# Generous: these tests must pass with one of two cores kept busy.
WAIT_S = 60.0


def nowhere(rollout: ModelRollout, revision: str) -> str:
    """No model server answers: nothing here sends traffic, the routers only need an upstream in their config."""
    return "http://127.0.0.1:9"


def document(version: str, webhook_url: str) -> dict[str, Any]:
    metric = {"name": "quality-gate", "webhook": {"url": webhook_url, "timeout": "2s"}, "errorLimit": 2}
    container = {"name": "model", "image": f"model:{version}"}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelRollout",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": 2,
            "template": {"metadata": {"labels": {"app": "iris"}}, "spec": {"containers": [container]}},
            "strategy": {"canary": {"steps": [{"analysis": {"interval": "1s", "metrics": [metric]}}, {"setWeight": 100}]}},
        },
    }


@dataclass
class Cluster:
    kube: FakeKube
    api: k8s.CustomObjectsApi
    core: k8s.CoreV1Api
    controller: Controller

    def rollout(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, NAME)
        return found

    def status(self) -> dict[str, Any]:
        return self.rollout().get("status") or {}

    def condition(self, kind: str) -> dict[str, Any]:
        return next((c for c in self.status().get("conditions", []) if c["type"] == kind), {})

    def events(self, reason: str) -> list[Any]:
        return [e for e in self.core.list_namespaced_event(NAMESPACE).items if e.reason == reason]

    def outage_metric(self) -> float | None:
        labels = {"namespace": NAMESPACE, "name": NAME, "metric": "quality-gate"}
        return self.controller.metrics.registry.get_sample_value("modelrollout_provider_outage", labels)

    async def wait_for(self, what: str, check: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
        return await async_wait_until(what, check, timeout_s, detail=lambda: f"status: {self.status()}")


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube(ready_after_s=0.1, namespaces=(NAMESPACE,)) as running:
        yield running


@pytest.fixture
async def cluster(kube: FakeKube, processes: ProcessGroup) -> AsyncIterator[Cluster]:
    config = ControllerConfig(namespaces=(NAMESPACE,), workers=2, cadence=FAST, identity="outage", drain_s=2.0, router_timeout_s=1.0)
    adapters = Adapters(upstream=nowhere, router_address=reach_router)
    with kube.api_client() as admin:
        async with running_controller(kube.kubeconfig_path, config, adapters) as controller:
            await start_listed_router(processes, kube.kubeconfig_path, admin, NAMESPACE, NAME, WAIT_S)
            yield Cluster(kube, k8s.CustomObjectsApi(admin), k8s.CoreV1Api(admin), controller)


async def serve_verdicts(port: int) -> web.AppRunner:
    """The webhook, back: every measurement Passed."""

    async def verdict(_request: web.Request) -> web.Response:
        return web.json_response({"verdict": "Passed"})

    app = web.Application()
    app.router.add_post("/verdict", verdict)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_a_webhook_that_stays_down_stalls_the_rollout_visibly_and_it_recovers(cluster: Cluster) -> None:
    port = free_port()  # nothing listens here yet: every call is refused
    url = f"http://127.0.0.1:{port}/verdict"
    await asyncio.to_thread(cluster.api.create_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, document("v1", url))
    stable = await cluster.wait_for("the first revision stable", lambda: cluster.status().get("stableRevision"))
    await cluster.wait_for("the routers serving it", lambda: cluster.condition("TrafficApplied").get("status") == "True")
    await asyncio.to_thread(
        cluster.api.patch_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": document("v2", url)["spec"]}
    )

    stalled = await cluster.wait_for("Stalled=True", lambda: (c := cluster.condition("Stalled")).get("status") == "True" and c)
    assert stalled["reason"] == "ProviderUnavailable"
    assert "quality-gate (step 0)" in stalled["message"] and "more than errorLimit 2" in stalled["message"]
    assert "provider failed" in stalled["message"]
    (warning,) = await cluster.wait_for("the Warning Event", lambda: cluster.events("ProviderUnavailable"))
    assert warning.type == "Warning" and "quality-gate" in warning.message
    assert cluster.outage_metric() == 1.0

    # Held, not rolled back, however long it lasts: the streak grows, one Warning, the candidate stays.
    await cluster.wait_for("more errors in a row", lambda: (cluster.status().get("providerOutage") or {}).get("errors", 0) >= 6)
    status = cluster.status()
    assert (status["phase"], status["reason"], status["currentStep"]) == ("Progressing", "ProviderUnavailable", 0)
    assert status["stableRevision"] == stable and status.get("candidateRevision")
    assert len(cluster.events("ProviderUnavailable")) == 1 and not cluster.events("RolledBack")

    runner = await serve_verdicts(port)
    try:
        await cluster.wait_for("Stalled cleared", lambda: cluster.condition("Stalled").get("status") == "False")
        assert "providerOutage" not in cluster.status()
        (recovered,) = await cluster.wait_for("the Normal Event", lambda: cluster.events("ProviderRecovered"))
        assert recovered.type == "Normal"
        assert cluster.outage_metric() == 0.0
        await cluster.wait_for(
            "the candidate promoted",
            lambda: cluster.status().get("phase") == "Healthy" and cluster.status().get("stableRevision") != stable,
        )
    finally:
        await runner.cleanup()
