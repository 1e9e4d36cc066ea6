"""State only in status: restarts at every step boundary, conflict storms, a router that lags behind.

Restarts run on both API servers; a conflict storm only the stand-in can make on demand, and a
lagging router is the controller's own affair, so those two run on the stand-in.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from controller.api.resource import revision_of
from controller.local.processes import free_port
from tests.integration.kube.conftest import GOOD, ON_BOTH, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "1s"}},
    {"setWeight": 50},
    {"analysis": {"interval": "1s", "count": 1}},
    {"setWeight": 100},
]


class ConfigHistory:
    """Every router config the controller wrote, in order, as the API server committed them.

    Read from a watch of the ConfigMap, which delivers every committed change in order, from a
    resourceVersion listed before the rollout begins, so none is missed.
    """

    def __init__(self, scene: Scene, name: str) -> None:
        self._core = k8s.CoreV1Api(scene.backend.admin)
        self._namespace = scene.namespace
        self._selector = f"metadata.name={name}-router"
        self._lock = threading.Lock()
        self._watch = k8s_watch.Watch()
        self._stopped = threading.Event()
        self.configs: list[dict[str, Any]] = []
        self.versions: list[str] = []
        listed = self._core.list_namespaced_config_map(self._namespace, field_selector=self._selector)
        self._thread = threading.Thread(target=self._follow, args=(listed.metadata.resource_version,), daemon=True)
        self._thread.start()

    def _follow(self, version: str) -> None:
        while not self._stopped.is_set():
            try:
                stream = self._watch.stream(self._core.list_namespaced_config_map, self._namespace, field_selector=self._selector,
                                            resource_version=version, timeout_seconds=60)  # fmt: skip
                for event in stream:
                    version = self._record(event)
            except Exception:  # noqa: BLE001 -- a cut watch is reopened where it left off, as an informer does
                if self._stopped.wait(0.1):
                    return

    def _record(self, event: dict[str, Any]) -> str:
        obj = event["raw_object"]
        if event["type"] in ("ADDED", "MODIFIED"):
            with self._lock:
                self.configs.append(json.loads(obj["data"]["router.json"]))
                self.versions.append(obj["metadata"]["resourceVersion"])
        return str(obj["metadata"]["resourceVersion"])

    def seen(self, resource_version: str) -> bool:
        with self._lock:
            return resource_version in self.versions

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()

    def share_of(self, url: str) -> list[int]:
        """Percent of live traffic that reached the model at `url`, config by config."""
        shares = []
        for config in self.configs:
            upstreams, weights = config["upstreams"], config["weights"]
            shares.append(sum(weights[v] for v in ("stable", "candidate") if upstreams.get(v) == url))
        return shares


async def _ready_for_rollout(scene: Scene, routers: int = 1) -> None:
    scene.apply(canary_document("demo", STABLE, STEPS))
    stable = revision_of(template(STABLE))
    await scene.wait_for("the first stable", lambda: scene.status("demo").get("stableRevision") == stable)
    for index in range(routers):
        await scene.start_router("demo", index)
    scene.start_traffic()


def _promoted(scene: Scene) -> bool:
    status = scene.status("demo")
    return status.get("phase") == "Healthy" and status.get("stableRevision") == revision_of(template(GOOD))


def _promotions(scene: Scene) -> int:
    return sum(int(e.get("count", 1)) for e in scene.events("demo") if e["reason"] == "Promoted")


@ON_BOTH
async def test_a_controller_killed_at_every_step_boundary_resumes_without_repeating_or_flipping(scene: Scene) -> None:
    history = ConfigHistory(scene, "demo")
    running = await scene.start_controller()
    await _ready_for_rollout(scene)
    scene.apply(canary_document("demo", GOOD, STEPS))
    seen: set[tuple[Any, Any]] = set()
    restarts = 0
    while not _promoted(scene):
        status = scene.status("demo")
        boundary = (status.get("currentStep"), status.get("phase"))
        if boundary not in seen:
            seen.add(boundary)
            await running.kill()
            running = await scene.start_controller(identity=f"controller-{restarts}")
            restarts += 1
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)  # a restarted controller must not promote again
    await running.stop()
    live = scene.must_get("configmaps", "demo-router")["metadata"]["resourceVersion"]
    await scene.wait_for("the watch to deliver the last config", lambda: history.seen(live), timeout_s=10)
    history.stop()

    assert restarts >= len(STEPS)
    assert _promotions(scene) == 1
    shares = history.share_of(scene.models.urls[GOOD])
    assert shares == sorted(shares), f"traffic to the candidate went back and forth: {shares}"
    assert shares[-1] == 100 and 20 in shares and 50 in shares
    generations = [c["generation"] for c in history.configs]
    assert generations == list(range(generations[0], generations[0] + len(generations)))


async def test_a_conflict_storm_on_status_writes_delays_but_never_corrupts(scene: Scene) -> None:
    running = await scene.start_controller()
    await _ready_for_rollout(scene)
    # The spec goes in before the storm: a storm on the object would refuse the test's own update too.
    scene.apply(canary_document("demo", GOOD, STEPS))
    scene.stand_in.faults.conflict_storm("modelrollouts", scene.namespace, "demo", 12)
    await scene.wait_for("promotion through the storm", lambda: _promoted(scene), timeout_s=45)
    metrics = running.controller.metrics.exposition().decode()
    await running.stop()
    conflicts = next(line for line in metrics.splitlines() if line.startswith("modelrollout_status_conflicts_total"))
    assert float(conflicts.split()[-1]) >= 12
    assert _promotions(scene) == 1
    status = scene.status("demo")
    assert status["observedGeneration"] == scene.rollout("demo")["metadata"]["generation"]


async def test_a_step_waits_for_a_router_that_has_not_applied_the_split(scene: Scene) -> None:
    running = await scene.start_controller()
    await _ready_for_rollout(scene)
    late_admin = await scene.start_router("demo", 1, run=False)
    scene.apply(canary_document("demo", GOOD, STEPS))

    await scene.wait_for("the first split written", lambda: scene.status("demo").get("reason") == "WaitingForTraffic")
    await asyncio.sleep(1.5)
    status = scene.status("demo")
    assert status["currentStep"] == 0
    applied = next(c for c in status["conditions"] if c["type"] == "TrafficApplied")
    assert applied["status"] == "False"

    await scene.run_router("demo", 1, free_port(), late_admin)
    await scene.wait_for("promotion once both routers serve each split", lambda: _promoted(scene), timeout_s=30)
    await running.stop()
