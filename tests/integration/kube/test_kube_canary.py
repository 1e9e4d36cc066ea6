"""A canary through the operator, from `kubectl apply` to promotion, and to rollback on a failing metric.

Promotion and rollback run on the stand-in and on the real control plane; the sidecar and
blue-green variants, which differ from them only in the controller's choices, on the stand-in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from controller.api.resource import revision_of
from tests.integration.kube.conftest import BAD, GOOD, ON_BOTH, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [{"setWeight": 30}, {"analysis": {"interval": "1s", "count": 2}}, {"setWeight": 100}]


def _router_config(scene: Scene, name: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(scene.must_get("configmaps", f"{name}-router")["data"]["router.json"])
    return config


async def _healthy_on(scene: Scene, name: str, image: str) -> None:
    revision = revision_of(template(image))
    def status() -> dict[str, Any]:
        return scene.status(name)

    await scene.wait_for(
        f"{name} Healthy on {image}",
        lambda: status().get("phase") == "Healthy" and status().get("stableRevision") == revision and not status().get("candidateRevision"),
    )


@ON_BOTH
async def test_a_good_candidate_is_promoted_with_every_owned_object_in_place(scene: Scene) -> None:
    running = await scene.start_controller()
    scene.apply(canary_document("demo", STABLE, STEPS))
    await _healthy_on(scene, "demo", STABLE)
    for index in range(2):
        await scene.start_router("demo", index)
    scene.start_traffic()
    first_generation = _router_config(scene, "demo")["generation"]

    scene.apply(canary_document("demo", GOOD, STEPS))
    await _healthy_on(scene, "demo", GOOD)

    status = scene.status("demo")
    candidate = revision_of(template(GOOD))
    config = _router_config(scene, "demo")
    assert config["upstreams"]["stable"] == scene.models.urls[GOOD]
    assert config["weights"] == {"stable": 100, "candidate": 0}
    assert config["generation"] > first_generation
    assert {r["verdict"] for r in status["evidence"]} <= {"Passed", "Inconclusive"}
    assert any(r["verdict"] == "Passed" for r in status["evidence"])
    reasons = {e["reason"] for e in scene.events("demo")}
    assert {"Initialized", "RolloutStarted", "Promoted"} <= reasons
    for kind, name in [
        ("deployments.apps", f"demo-{candidate}"),
        ("services", f"demo-{candidate}"),
        ("deployments.apps", "demo-router"),
        ("services", "demo"),
        ("services", "demo-router"),
        ("serviceaccounts", "demo-router"),
        ("roles.rbac.authorization.k8s.io", "demo-router"),
        ("rolebindings.rbac.authorization.k8s.io", "demo-router"),
    ]:
        obj = scene.get(kind, name)
        assert obj is not None, f"{kind} {name} missing"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == scene.rollout("demo")["metadata"]["uid"]
    assert status["scaleDown"]["revision"] == revision_of(template(STABLE))
    await running.stop()


@ON_BOTH
async def test_a_failing_metric_rolls_back_and_rejects_the_candidate(scene: Scene) -> None:
    running = await scene.start_controller()
    scene.apply(canary_document("demo", STABLE, STEPS))
    await _healthy_on(scene, "demo", STABLE)
    await scene.start_router("demo", 0)
    scene.start_traffic(rate_per_s=60)

    scene.apply(canary_document("demo", BAD, STEPS))
    rejected = revision_of(template(BAD))
    await scene.wait_for("a rollback", lambda: scene.status("demo").get("phase") == "Degraded")

    status = scene.status("demo")
    assert status["rejectedRevision"] == rejected
    assert status["stableRevision"] == revision_of(template(STABLE))
    assert any(r["verdict"] == "Failed" and r["metric"] == "error-rate" for r in status["evidence"])
    config = _router_config(scene, "demo")
    assert config["weights"] == {"stable": 100, "candidate": 0}
    assert config["mirrorPercent"] == 0
    await scene.wait_for(
        "the candidate scaled to zero", lambda: scene.must_get("deployments.apps", f"demo-{rejected}")["spec"]["replicas"] == 0
    )
    assert "AnalysisFailed" in {e["reason"] for e in scene.events("demo")}
    # The counter is bumped after the status write that shows Degraded, so it may lag a moment behind.
    def rollbacks() -> bool:
        return "modelrollout_rollbacks_total 1.0" in running.controller.metrics.exposition().decode()

    await scene.wait_for("the rollback counted", rollbacks, timeout_s=5)
    await running.stop()


async def test_sidecar_routers_get_no_router_deployment_and_the_service_goes_to_stable(scene: Scene) -> None:
    running = await scene.start_controller()
    sidecar = {"router": {"mode": "sidecar"}}
    scene.apply(canary_document("demo", STABLE, STEPS, **sidecar))
    await _healthy_on(scene, "demo", STABLE)
    await scene.start_router("demo", 0)  # a client pod's sidecar, found through the same admin Service
    scene.start_traffic()
    scene.apply(canary_document("demo", GOOD, STEPS, **sidecar))
    await _healthy_on(scene, "demo", GOOD)
    assert scene.get("deployments.apps", "demo-router") is None
    entry = scene.get("services", "demo")
    assert entry is not None
    assert entry["spec"]["selector"]["modelrollout.io/revision"] == revision_of(template(GOOD))
    assert _router_config(scene, "demo")["upstreams"]["stable"] == scene.models.urls[GOOD]
    await running.stop()


async def test_blue_green_previews_the_candidate_then_switches_and_scales_the_old_one_down(scene: Scene) -> None:
    running = await scene.start_controller()
    blue_green = {"blueGreen": {"autoPromotionSeconds": 1, "scaleDownDelaySeconds": 1}}
    document = canary_document("demo", STABLE, STEPS)
    document["spec"]["strategy"] = blue_green
    scene.apply(document)
    await _healthy_on(scene, "demo", STABLE)
    await scene.start_router("demo", 0)
    scene.start_traffic()
    candidate, old = revision_of(template(GOOD)), revision_of(template(STABLE))
    document["spec"]["template"] = template(GOOD)
    scene.apply(document)

    def previewing() -> bool:
        preview = scene.get("services", "demo-preview")
        return bool(preview and preview["spec"]["selector"].get("modelrollout.io/revision") == candidate)

    await scene.wait_for("the preview Service on the candidate", previewing)
    await _healthy_on(scene, "demo", GOOD)
    await scene.wait_for("the old revision scaled down", lambda: scene.must_get("deployments.apps", f"demo-{old}")["spec"]["replicas"] == 0)
    # The Event is recorded right after the scale, so it may land a moment after the replicas change.
    await scene.wait_for("the ScaledDown event", lambda: "ScaledDown" in {e["reason"] for e in scene.events("demo")}, timeout_s=5)
    await running.stop()
