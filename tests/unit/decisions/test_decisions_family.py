"""How many tests a rollout's confidence is shared over: tested metrics per analysis window."""

from __future__ import annotations

from typing import Any

from controller.api.resource import ModelRollout
from controller.engine.confidence import windows_tested
from controller.engine.validity import checked_steps

ERRORS = {"name": "errors", "router": {"metric": "errorRate"}, "compare": {}}
AGREEMENT = {"name": "agreement", "router": {"metric": "shadowAgreement"}, "min": 0.95}
LATENCY_P99 = {"name": "latency-p99", "router": {"metric": "latencyP99"}, "max": 0.5}
DRIFT = {"name": "drift", "router": {"metric": "predictionDrift"}, "max": 0.25}


def _count(strategy: dict[str, Any], analysis: dict[str, Any] | None = None) -> int:
    template = {"metadata": {"labels": {"app": "m"}}, "spec": {"containers": [{"name": "m", "image": "m:1"}]}}
    spec: dict[str, Any] = {"replicas": 1, "template": template, "strategy": strategy}
    if analysis is not None:
        spec["analysis"] = analysis
    rollout = ModelRollout.model_validate({"metadata": {"name": "m", "namespace": "ml"}, "spec": spec})
    steps, issues = checked_steps(rollout.spec)
    assert not issues
    return windows_tested(rollout.spec, steps)


def _analysis(*metrics: dict[str, Any]) -> dict[str, Any]:
    return {"analysis": {"interval": "30s", "count": 2, "metrics": list(metrics)}}


def test_each_analysis_step_counts_its_tested_metrics() -> None:
    steps = [{"setMirror": 50}, _analysis(AGREEMENT, DRIFT), {"setMirror": 0}, {"setWeight": 10}, _analysis(ERRORS, LATENCY_P99)]
    # A point value against a bound (a p99) is not a test of the candidate's samples; a counted rate and PSI are.
    assert _count({"canary": {"steps": [*steps, {"setWeight": 50}, _analysis(ERRORS), {"setWeight": 100}]}}) == 4


def test_background_metrics_count_once_per_split() -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 50}, {"pause": {"duration": "1m"}}]
    background = {"interval": "1m", "metrics": [ERRORS, LATENCY_P99, DRIFT]}
    # Windows at 10% and 50%; at 100% the rollout is over, so no window there.
    assert _count({"canary": {"steps": [*steps, {"setWeight": 100}]}}, background) == 4


def test_a_split_without_the_candidate_starts_no_background_window() -> None:
    steps = [{"setMirror": 50}, {"pause": {"duration": "1m"}}, {"setMirror": 0}, {"setWeight": 20}, {"pause": {"duration": "1m"}}]
    assert _count({"canary": {"steps": [*steps, {"setWeight": 100}]}}, {"interval": "1m", "metrics": [ERRORS]}) == 2


def test_a_rollout_without_tests_counts_one() -> None:
    assert _count({"canary": {"steps": [{"setWeight": 50}, _analysis(LATENCY_P99), {"setWeight": 100}]}}) == 1
