"""What the operator owns stays as it says: hand edits go back, deletion takes everything, bad specs are named.

Hand edits and deletion (collected by the real controller-manager's garbage collector) run on
both API servers. A spec that breaks the CRD's schema or CEL rules is refused by the real API
server before the controller sees it; the stand-in checks no CRD schema, so on it the same spec
reaches the controller, whose own check (for a cluster with an older CRD) must name the field.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from kubernetes.client.exceptions import ApiException

from controller.api.resource import revision_of
from controller.cli import kubectl_main
from tests.integration.kube.conftest import GOOD, ON_BOTH, REAL_ONLY, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

STEPS: list[dict[str, Any]] = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 100}]
STABLE_REVISION = revision_of(template(STABLE))


async def _stable(scene: Scene) -> None:
    scene.apply(canary_document("demo", STABLE, STEPS))
    await scene.wait_for("the first stable", lambda: scene.status("demo").get("phase") == "Healthy")


@ON_BOTH
async def test_a_hand_edited_deployment_and_a_deleted_configmap_are_put_back(scene: Scene) -> None:
    running = await scene.start_controller()
    await _stable(scene)
    name = f"demo-{STABLE_REVISION}"
    live = scene.must_get("deployments.apps", name)
    live["spec"]["replicas"] = 7
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:latest"
    scene.replace("deployments.apps", live)
    original = json.loads(scene.must_get("configmaps", "demo-router")["data"]["router.json"])
    scene.delete("configmaps", "demo-router")

    def restored() -> bool:
        deployment = scene.get("deployments.apps", name)
        configmap = scene.get("configmaps", "demo-router")
        return bool(
            deployment
            and deployment["spec"]["replicas"] == 2
            and deployment["spec"]["template"]["spec"]["containers"][0]["image"] == STABLE
            and configmap
        )

    await scene.wait_for("the Deployment and ConfigMap restored", restored, timeout_s=15)
    config = json.loads(scene.must_get("configmaps", "demo-router")["data"]["router.json"])
    assert config["upstreams"] == original["upstreams"] and config["weights"] == original["weights"]
    await running.stop()


@ON_BOTH
async def test_deleting_the_rollout_takes_every_owned_object_and_nothing_comes_back(scene: Scene) -> None:
    running = await scene.start_controller()
    await _stable(scene)
    owned = [("deployments.apps", f"demo-{STABLE_REVISION}"), ("deployments.apps", "demo-router"), ("configmaps", "demo-router"),
             ("services", "demo"), ("services", "demo-router"), ("serviceaccounts", "demo-router")]  # fmt: skip
    assert all(scene.get(kind, name) is not None for kind, name in owned)
    scene.delete("modelrollouts", "demo")
    await scene.wait_for("the owned objects collected", lambda: all(scene.get(k, n) is None for k, n in owned))
    await asyncio.sleep(1.0)
    assert [n for k, n in owned if scene.get(k, n) is not None] == []
    assert running.controller.metrics.exposition().decode().count('modelrollout_rollouts{phase="Healthy"} 0.0') == 1
    await running.stop()


async def test_a_spec_that_does_not_parse_gets_invalid_spec_naming_the_field(scene: Scene) -> None:
    running = await scene.start_controller()
    document = canary_document("broken", STABLE, [{"setWeight": 140}])
    scene.apply(document)
    await scene.wait_for("InvalidSpec", lambda: scene.status("broken").get("reason") == "InvalidSpec")
    status = scene.status("broken")
    assert ".spec.strategy.canary.steps[0].setWeight" in status["message"]
    assert "140" in status["message"]
    assert status["phase"] == "Degraded"
    assert scene.get("configmaps", "broken-router") is None
    warnings = [e for e in scene.events("broken") if e["reason"] == "InvalidSpec"]
    assert warnings and warnings[0]["type"] == "Warning"
    # The worker survived: a sound rollout next to it still goes ahead.
    await _stable(scene)
    await running.stop()


@REAL_ONLY
@pytest.mark.parametrize("spec, field, words", [
    ({"strategy": {"canary": {"steps": [{"setWeight": 140}]}}}, "spec.strategy.canary.steps[0].setWeight", "less than or equal to 100"),
    ({"router": {"sticky": {"header": "x-user", "cookie": "user"}}}, "spec.router.sticky", "exactly one of header or cookie"),
], ids=["schema", "cel"])  # fmt: skip
async def test_a_spec_breaking_the_crd_is_refused_by_the_api_server_naming_the_field(
    scene: Scene, spec: dict[str, Any], field: str, words: str
) -> None:
    document = canary_document("broken", STABLE, [{"setWeight": 100}])
    document["spec"].update(spec)
    with pytest.raises(ApiException) as refused:
        scene.apply(document)
    answer = orjson.loads(refused.value.body)
    assert refused.value.status == 422 and answer["reason"] == "Invalid"
    assert f"{field}: Invalid value" in answer["message"] and words in answer["message"]
    assert [c["field"] for c in answer["details"]["causes"]] == [field]
    assert scene.get("modelrollouts", "broken") is None


async def test_kubectl_promote_moves_a_rollout_past_an_indefinite_pause(scene: Scene) -> None:
    running = await scene.start_controller()
    await _stable(scene)
    await scene.start_router("demo", 0)
    scene.apply(canary_document("demo", GOOD, STEPS))
    await scene.wait_for("a pause until promoted", lambda: scene.status("demo").get("phase") == "Paused")
    kubeconfig = str(scene.stand_in.kubeconfig_path)
    code = await asyncio.to_thread(kubectl_main, ["promote", "demo", "-n", scene.namespace, "--kubeconfig", kubeconfig])
    assert code == 0
    good = revision_of(template(GOOD))
    await scene.wait_for("promotion", lambda: scene.status("demo").get("stableRevision") == good, timeout_s=20)
    assert scene.rollout("demo")["spec"]["template"] == template(GOOD)  # the request touched no spec field
    await running.stop()


async def test_a_malformed_request_annotation_is_reported_once_and_ignored(scene: Scene) -> None:
    running = await scene.start_controller()
    await _stable(scene)
    scene.patch("modelrollouts", "demo", {"metadata": {"annotations": {"modelrollout.io/request": "promote please"}}})

    def warned() -> list[dict[str, object]]:
        return [e for e in scene.events("demo") if e["reason"] == "InvalidRequest"]

    (event,) = await scene.wait_for("a warning about the request", warned)
    assert event["type"] == "Warning"
    assert "modelrollout.io/request" in str(event["message"]) and "not JSON" in str(event["message"])
    scene.patch("modelrollouts", "demo", {"metadata": {"labels": {"touched": "yes"}}})
    await asyncio.sleep(0.5)
    assert warned()[0].get("count", 1) == 1
    assert scene.status("demo")["phase"] == "Healthy"
    await running.stop()
