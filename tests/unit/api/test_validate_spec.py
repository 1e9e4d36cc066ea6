"""validate_spec beyond the bad-spec table: where mirroring reaches, background metrics, other strategies."""

from __future__ import annotations

from typing import Any

from controller.api import ModelRolloutSpec
from controller.api.validation import SpecIssue, validate_spec

TEMPLATE = {"spec": {"containers": [{"name": "model", "image": "kserve/sklearnserver:v0.13.0"}]}}
AGREEMENT = {"name": "agreement", "router": {"metric": "shadowAgreement"}, "min": 0.9}
ERRORS = {"name": "errors", "router": {"metric": "errorRate"}, "max": 0.01}


def spec(strategy: dict[str, Any], **extra: Any) -> ModelRolloutSpec:
    return ModelRolloutSpec.model_validate({"template": TEMPLATE, "strategy": strategy, **extra})


def paths(issues: list[SpecIssue]) -> list[str]:
    return [issue.path for issue in issues]


def test_an_issue_reads_as_path_then_message() -> None:
    issue = SpecIssue(path=".spec.replicas", message="is required")
    assert str(issue) == ".spec.replicas: is required"
    assert str(SpecIssue(path="", message="the input holds no ModelRollout")) == "the input holds no ModelRollout"


def test_analysis_step_without_metrics_is_fine_with_background_analysis() -> None:
    canary = {"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}, {"setWeight": 100}]}}
    assert paths(validate_spec(spec(canary))) == [".spec.strategy.canary.steps[1].analysis.metrics"]
    assert validate_spec(spec(canary, analysis={"metrics": [ERRORS]})) == []


def test_background_shadow_metric_needs_mirroring_somewhere() -> None:
    mirrored = {"canary": {"steps": [{"setMirror": 20}, {"setWeight": 100}]}}
    unmirrored = {"canary": {"steps": [{"setWeight": 100}]}}
    assert validate_spec(spec(mirrored, analysis={"metrics": [AGREEMENT]})) == []
    assert paths(validate_spec(spec(unmirrored, analysis={"metrics": [AGREEMENT]}))) == [
        ".spec.analysis.metrics[0].router.metric"
    ]


def test_mirroring_stops_where_a_step_turns_it_off() -> None:
    steps = [
        {"setMirror": 50},
        {"analysis": {"metrics": [AGREEMENT]}},
        {"setMirror": 0},
        {"analysis": {"metrics": [AGREEMENT]}},
    ]
    issues = validate_spec(spec({"canary": {"steps": [*steps, {"setWeight": 100}]}}))
    assert paths(issues) == [".spec.strategy.canary.steps[3].analysis.metrics[0].router.metric"]


def test_blue_green_never_mirrors() -> None:
    blue_green = {"blueGreen": {"prePromotionAnalysis": {"metrics": [ERRORS, AGREEMENT]}}}
    assert paths(validate_spec(spec(blue_green))) == [
        ".spec.strategy.blueGreen.prePromotionAnalysis.metrics[1].router.metric"
    ]


def test_shadow_strategy_mirrors_unless_its_percent_is_zero() -> None:
    assert validate_spec(spec({"shadow": {"analysis": {"metrics": [AGREEMENT]}}})) == []
    assert paths(validate_spec(spec({"shadow": {"percent": 0}}))) == [".spec.strategy.shadow.percent"]


def test_shadow_agreement_is_bounded_not_compared() -> None:
    compared = {**AGREEMENT, "min": None, "compare": {"worseIf": "lower"}}
    issues = validate_spec(spec({"shadow": {"analysis": {"metrics": [compared]}}}))
    assert paths(issues) == [".spec.strategy.shadow.analysis.metrics[0].compare"]


def test_samples_query_needs_the_variant_placeholder_too() -> None:
    prometheus = {"address": "http://p:9090", "query": 'x{v="{{variant}}"}', "samplesQuery": "sum(x_total)"}
    metric = {"name": "x", "prometheus": prometheus, "maxIncrease": {"absolute": 1}}
    issues = validate_spec(spec({"canary": {"steps": [{"setWeight": 100}]}}, analysis={"metrics": [metric]}))
    assert paths(issues) == [".spec.analysis.metrics[0].prometheus.samplesQuery"]


def test_absolute_bounds_on_prometheus_need_no_placeholder() -> None:
    metric = {"name": "x", "prometheus": {"address": "http://p:9090", "query": "sum(up)"}, "max": 1}
    assert validate_spec(spec({"canary": {"steps": [{"setWeight": 100}]}}, analysis={"metrics": [metric]})) == []


def test_every_container_needs_an_image() -> None:
    template = {"spec": {"containers": [{"name": "model", "image": "m:1"}, {"name": "sidecar"}]}}
    issues = validate_spec(ModelRolloutSpec.model_validate({"template": template, "strategy": {"blueGreen": {}}}))
    assert paths(issues) == [".spec.template.spec.containers[1].image"]


def test_issues_come_in_field_order() -> None:
    bad = ModelRolloutSpec.model_validate(
        {"template": {}, "strategy": {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"interval": "0s"}}]}}}
    )
    assert paths(validate_spec(bad)) == [
        ".spec.template.spec.containers",
        ".spec.strategy.canary.steps",
        ".spec.strategy.canary.steps[1].analysis.interval",
        ".spec.strategy.canary.steps[1].analysis.metrics",
    ]


def test_drift_may_be_judged_by_a_statistical_test_but_not_by_an_increase() -> None:
    drift_test = {"name": "drift", "router": {"metric": "predictionDrift"}, "compare": {"confidence": 0.99}}
    drift_increase = {"name": "drift", "router": {"metric": "predictionDrift"}, "maxIncrease": {"absolute": 0.1}}
    canary = {"canary": {"steps": [{"setWeight": 100}]}}
    assert validate_spec(spec(canary, analysis={"metrics": [drift_test]})) == []
    assert paths(validate_spec(spec(canary, analysis={"metrics": [drift_increase]}))) == [
        ".spec.analysis.metrics[0].maxIncrease"
    ]
