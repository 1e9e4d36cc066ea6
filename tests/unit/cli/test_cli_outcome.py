"""When a pipeline's wait is over, and with which exit code, read from the rollout object alone."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api.resource import revision_of
from controller.cli.kubectl.outcome import Goal, judge, progress_line

TEMPLATE = {"spec": {"containers": [{"name": "model", "image": "model:2"}]}}
TARGET = revision_of(TEMPLATE)
NOW = "2025-03-01T12:00:00Z"


def _obj(generation: int = 2, **status: Any) -> dict[str, Any]:
    base = {"observedGeneration": 2, "phase": "Healthy", "reason": "Promoted", "message": "promoted", "stableRevision": TARGET}
    return {"metadata": {"name": "demo", "generation": generation}, "spec": {"template": TEMPLATE}, "status": {**base, **status}}


def _stalled(reason: str) -> list[dict[str, Any]]:
    return [{"type": "Stalled", "status": "True", "reason": reason, "message": "prometheus is down", "lastTransitionTime": NOW}]


def test_nothing_is_final_before_the_controller_observed_the_spec_just_applied() -> None:
    for goal in Goal:
        assert judge(_obj(generation=3), goal) is None


def test_promoted_is_reached_only_on_the_templates_revision() -> None:
    reached = judge(_obj(), Goal.PROMOTED)
    assert reached is not None and reached.reached and "Healthy (Promoted)" in reached.why
    other = judge(_obj(stableRevision="0123456789"), Goal.PROMOTED)
    assert other is not None and not other.reached and f"not the template's {TARGET}" in other.why


@pytest.mark.parametrize(("goal", "reached"), [(Goal.PROMOTED, False), (Goal.HEALTHY, False), (Goal.DEGRADED, True)])
def test_a_rollback_ends_every_wait(goal: Goal, reached: bool) -> None:
    judgement = judge(_obj(phase="Degraded", reason="AnalysisFailed", message="rolled back"), goal)
    assert judgement is not None and judgement.reached is reached and judgement.why == "Degraded (AnalysisFailed): rolled back"


def test_a_rollout_still_going_is_not_judged_and_a_stalled_one_ends_the_wait() -> None:
    going = _obj(phase="Progressing", candidateRevision="abc", currentStep=1, stepCount=3)
    assert judge(going, Goal.PROMOTED) is None
    stalled = judge({**going, "status": {**going["status"], "conditions": _stalled("ProviderUnavailable")}}, Goal.PROMOTED)
    assert stalled is not None and not stalled.reached and stalled.why == "stalled (ProviderUnavailable): prometheus is down"


def test_degraded_is_not_reached_by_a_healthy_end() -> None:
    judgement = judge(_obj(), Goal.DEGRADED)
    assert judgement is not None and not judgement.reached


def test_the_progress_line_names_phase_step_traffic_and_what_it_waits_on() -> None:
    obj = _obj(phase="Paused", reason="WaitingForPromote", message="waiting", currentStep=1, stepCount=4, trafficSummary="70/30")
    line = progress_line(obj, ["setWeight 30", "pause until promoted", "setWeight 100", "promote"])
    assert line == "Paused step 2/4 (pause until promoted) traffic 70/30: WaitingForPromote: waiting"
