"""The Argo CD health check and resource actions, run in Lua 5.1 (Argo CD's gopher-lua dialect) by lupa.

Statuses come from the engine's own models and kstatus logic, and action results are read back
by the controller's own annotation parser, so the scripts are checked against the real contract.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from chartkit import KUBE_VERSIONS, REPO_ROOT, schema_errors
from lupa import lua51

from controller.api.status import ModelRolloutStatus, Phase, Verdict
from controller.engine.conditions import with_kstatus
from controller.engine.inputs import ManualAction
from controller.engine.reasons import Reason
from controller.kube.manual import REQUEST_ANNOTATION, read_request

__all__: list[str] = []

PATCH_PATH = REPO_ROOT / "manifests" / "argocd" / "argocd-cm-patch.yaml"
RESOURCE_KEY = "modelrollout.io_ModelRollout"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
ACTIONS = ["promote", "promote-full", "abort", "retry", "pause", "resume", "undo"]


def patch_data() -> dict[str, str]:
    return yaml.safe_load(PATCH_PATH.read_text(encoding="utf-8"))["data"]


def health_script() -> str:
    return patch_data()[f"resource.customizations.health.{RESOURCE_KEY}"]


def actions_config() -> dict[str, Any]:
    return yaml.safe_load(patch_data()[f"resource.customizations.actions.{RESOURCE_KEY}"])


def to_python(value: Any) -> Any:
    if lua51.lua_type(value) != "table":
        return value
    items = dict(value.items())
    if items and list(items) == list(range(1, len(items) + 1)):
        return [to_python(item) for item in items.values()]
    return {key: to_python(item) for key, item in items.items()}


def run_lua(script: str, obj: dict[str, Any]) -> Any:
    runtime = lua51.LuaRuntime()
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    return to_python(runtime.execute(script))


def rollout(status: ModelRolloutStatus | None, generation: int = 3) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": "iris", "namespace": "models", "generation": generation, "resourceVersion": "4711"},
        "spec": {"replicas": 2, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}},
    }
    if status is not None:
        obj["status"] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def status_of(
    phase: Phase | None,
    reason: str | None = None,
    *,
    generation: int = 3,
    candidate: str | None = None,
    message: str = "",
    previous: str | None = None,
    rejected: str | None = None,
    verdict: Verdict | None = None,
) -> ModelRolloutStatus:
    status = ModelRolloutStatus(
        observed_generation=generation,
        phase=phase,
        reason=reason,
        message=message,
        stable_revision="aaaaaaaaaa",
        candidate_revision=candidate,
        previous_stable_revision=previous,
        rejected_revision=rejected,
        shadow_verdict=verdict,
    )
    return with_kstatus(status, generation, NOW)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (status_of(Phase.HEALTHY, Reason.PROMOTED), "Healthy"),
        (status_of(Phase.HEALTHY, Reason.PROMOTED, candidate="bbbbbbbbbb"), "Progressing"),
        (status_of(Phase.PROGRESSING, Reason.ANALYZING, candidate="bbbbbbbbbb"), "Progressing"),
        (status_of(Phase.PAUSED, Reason.MANUAL_PAUSE, candidate="bbbbbbbbbb"), "Suspended"),
        (status_of(Phase.DEGRADED, Reason.ANALYSIS_FAILED, message="error-rate failed"), "Degraded"),
        (status_of(None, Reason.INVALID_SPEC, message="steps never reach 100"), "Degraded"),
    ],
    ids=["healthy", "healthy-with-candidate", "progressing", "paused", "degraded", "invalid-spec"],
)
def test_health_follows_phase_and_kstatus_conditions(status: ModelRolloutStatus, expected: str) -> None:
    assert run_lua(health_script(), rollout(status))["status"] == expected


def test_degraded_health_says_why() -> None:
    status = status_of(Phase.DEGRADED, Reason.ANALYSIS_FAILED, message="error-rate failed 2 of 2")
    assert run_lua(health_script(), rollout(status))["message"] == "Degraded (AnalysisFailed): error-rate failed 2 of 2"


def test_health_waits_for_the_controller_to_observe_the_new_generation() -> None:
    stale = status_of(Phase.HEALTHY, Reason.PROMOTED, generation=3)
    health = run_lua(health_script(), rollout(stale, generation=4))
    assert health == {"status": "Progressing", "message": "Waiting for the controller to observe generation 4"}


def test_health_of_a_rollout_with_no_status_yet_is_progressing() -> None:
    assert run_lua(health_script(), rollout(None))["status"] == "Progressing"


def test_a_stale_ready_condition_is_not_healthy() -> None:
    status = status_of(Phase.HEALTHY, Reason.PROMOTED, generation=3).model_copy(update={"observed_generation": 4})
    assert run_lua(health_script(), rollout(status, generation=4))["status"] == "Progressing"


def test_every_manual_action_is_offered() -> None:
    names = [definition["name"] for definition in actions_config()["definitions"]]
    assert names == ACTIONS and set(names) == {a.value for a in ManualAction}


@pytest.mark.parametrize(
    ("status", "enabled"),
    [
        (status_of(Phase.PROGRESSING, "Any"), {"promote", "promote-full", "abort", "pause", "undo"}),
        (status_of(Phase.PAUSED, "Any"), {"promote", "promote-full", "abort", "resume", "undo"}),
        (status_of(Phase.DEGRADED, "Any"), {"retry"}),
        (status_of(Phase.HEALTHY, "Any"), set()),
        (status_of(Phase.HEALTHY, Reason.PROMOTED, previous="cccccccccc"), {"undo"}),
        (status_of(Phase.HEALTHY, Reason.SHADOW_VERDICT_PASSED, rejected="bbbbbbbbbb", verdict=Verdict.PASSED), {"retry"}),
        (status_of(Phase.HEALTHY, Reason.SHADOW_VERDICT_FAILED, rejected="bbbbbbbbbb", verdict=Verdict.FAILED), {"retry"}),
    ],
    ids=["progressing", "paused", "degraded", "healthy", "healthy-after-promotion", "shadow-passed", "shadow-failed"],
)
def test_discovery_offers_the_actions_the_controller_would_act_on(status: ModelRolloutStatus, enabled: set[str]) -> None:
    offered = run_lua(actions_config()["discovery.lua"], rollout(status))
    assert set(offered) == set(ACTIONS)
    assert {name for name, flags in offered.items() if not flags["disabled"]} == enabled


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_writes_a_request_the_controller_reads(action: str) -> None:
    script = next(d["action.lua"] for d in actions_config()["definitions"] if d["name"] == action)
    before = rollout(status_of(Phase.PAUSED, Reason.MANUAL_PAUSE, candidate="bbbbbbbbbb"))
    before["metadata"]["annotations"] = {"team": "ml"}
    after = run_lua(script, copy.deepcopy(before))
    request = read_request(after["metadata"])
    assert request is not None and request.action == ManualAction(action)
    assert request.id.startswith("argocd-4711-") and request.at is not None
    assert after["metadata"]["annotations"]["team"] == "ml"
    after["metadata"]["annotations"].pop(REQUEST_ANNOTATION)
    # Compared after the same trip through Lua, where an empty list and an empty map look alike.
    assert after == run_lua("return obj", before), "an action must change nothing but the request annotation"


def test_an_action_on_an_object_without_annotations_adds_them() -> None:
    script = actions_config()["definitions"][0]["action.lua"]
    after = run_lua(script, rollout(None))
    assert json.loads(after["metadata"]["annotations"][REQUEST_ANNOTATION])["action"] == "promote"


def test_two_requests_on_successive_versions_have_different_ids() -> None:
    script = actions_config()["definitions"][0]["action.lua"]
    first, second = rollout(None), rollout(None)
    second["metadata"]["resourceVersion"] = "4712"
    ids = {read_request(run_lua(script, obj)["metadata"]).id for obj in (first, second)}
    assert len(ids) == 2


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_patch_is_a_valid_config_map(kube_version: str) -> None:
    assert schema_errors(yaml.safe_load(PATCH_PATH.read_text(encoding="utf-8")), kube_version) == []
