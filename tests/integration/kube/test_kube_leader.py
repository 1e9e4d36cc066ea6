"""Two controllers, one Lease: only the leader acts; when it dies the other takes over and finishes.

On both API servers; on the real one the Lease is install.yaml's, under its Role.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from controller.api.resource import revision_of
from tests.integration.kube.conftest import GOOD, ON_BOTH, STABLE
from tests.integration.kube.scene import (
    RunningController,
    Scene,
    canary_document,
    template,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [{"setWeight": 30}, {"pause": {"duration": "2s"}}, {"setWeight": 100}]


def _holder(scene: Scene) -> str | None:
    lease = scene.lease()
    return lease["spec"].get("holderIdentity") if lease else None


def _writers(scene: Scene) -> set[str]:
    return {e.get("reportingInstance", "") for e in scene.events("demo")}


@ON_BOTH
async def test_only_the_lease_holder_acts_and_the_other_takes_over_when_it_dies(scene: Scene) -> None:
    first = await scene.start_controller("controller-a", lease=True)
    await scene.wait_for("a leader", lambda: _holder(scene) == "controller-a")
    second = await scene.start_controller("controller-b", lease=True)
    await asyncio.sleep(1.0)
    assert (first.controller.leading, second.controller.leading) == (True, False)

    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the first stable", lambda: scene.status("demo").get("phase") == "Healthy")
    await scene.start_router("demo", 0)
    scene.apply(canary_document("demo", GOOD, STEPS))
    await scene.wait_for("the pause step", lambda: scene.status("demo").get("currentStep") == 1)
    assert _writers(scene) == {"controller-a"}

    await first.kill()  # no clean hand-back: the Lease must expire
    good = revision_of(template(GOOD))
    await scene.wait_for("the other replica leading", lambda: _holder(scene) == "controller-b", timeout_s=15)
    await scene.wait_for("promotion by the new leader", lambda: scene.status("demo").get("stableRevision") == good, timeout_s=20)
    assert "controller-b" in _writers(scene)
    await second.stop()
    assert _holder(scene) is None  # handed back on a clean stop


async def test_health_and_metrics_are_served(scene: Scene) -> None:
    running: RunningController = await scene.start_controller()
    await running.controller.health.start("127.0.0.1", 0)
    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the first stable", lambda: scene.status("demo").get("phase") == "Healthy")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.controller.health.port}") as client:
        health = await client.get("/healthz")
        metrics = (await client.get("/metrics")).text
    await running.stop()
    assert health.status_code == 200
    assert 'modelrollout_rollouts{phase="Healthy"} 1.0' in metrics
    assert 'modelrollout_reconciles_total{result="success"}' in metrics
    assert "modelrollout_decision_latency_seconds_bucket" in metrics
