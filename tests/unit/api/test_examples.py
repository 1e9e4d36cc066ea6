"""The example manifests: each passes the CRD schema and its CEL rules, loads into the models, and is sound."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from controller.api import ModelRollout, RouterMetric
from controller.api.validation import load_rollouts, validate_spec

EXPECTED = ["blue-green.yaml", "canary.yaml", "drift-gated.yaml", "monitored.yaml", "shadow.yaml"]


def test_the_expected_examples_exist(example_paths: list[Path]) -> None:
    assert [path.name for path in example_paths] == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_example_passes_the_api_server_checks(name: str, example: Callable[[str], Any], apiserver: Any) -> None:
    assert apiserver.errors(example(name)) == []


@pytest.mark.parametrize("name", EXPECTED)
def test_example_loads_and_is_sound(name: str, example_paths: list[Path]) -> None:
    path = next(path for path in example_paths if path.name == name)
    (rollout,) = load_rollouts(path.read_text(encoding="utf-8"), source=name)
    assert validate_spec(rollout.spec) == []
    assert rollout.name and rollout.spec.template["spec"]["containers"][0]["image"]


def metrics_of(rollout: ModelRollout) -> set[RouterMetric]:
    steps = rollout.spec.strategy.canary.steps if rollout.spec.strategy.canary else []
    specs = [m for step in steps if step.analysis and step.analysis.metrics for m in step.analysis.metrics]
    specs += rollout.spec.analysis.metrics if rollout.spec.analysis else []
    return {m.router.metric for m in specs if m.router}


def test_canary_shadows_first_then_raises_weights_on_router_metrics(example: Callable[[str], Any]) -> None:
    rollout = ModelRollout.model_validate(example("canary.yaml"))
    steps = rollout.spec.strategy.canary.steps
    assert steps[0].set_mirror == 100 and steps[1].analysis is not None
    assert RouterMetric.SHADOW_AGREEMENT in {m.router.metric for m in steps[1].analysis.metrics}
    assert [step.set_weight for step in steps if step.set_weight is not None] == [10, 25, 50, 100]
    metrics = [m for step in steps if step.analysis for m in step.analysis.metrics]
    assert all(m.router is not None for m in metrics), "the local demo runs canary.yaml without Prometheus"
    durations = [s.pause.duration for s in steps if s.pause] + [s.analysis.interval for s in steps if s.analysis]
    assert all(30 <= seconds <= 120 for seconds in durations)


def test_drift_gated_gates_on_drift_and_shadow_agreement(example: Callable[[str], Any]) -> None:
    rollout = ModelRollout.model_validate(example("drift-gated.yaml"))
    assert {RouterMetric.PREDICTION_DRIFT, RouterMetric.SHADOW_AGREEMENT} <= metrics_of(rollout)
    drift = next(
        m for m in rollout.spec.analysis.metrics if m.router and m.router.metric is RouterMetric.PREDICTION_DRIFT
    )
    assert drift.max_ == 0.25


def test_each_strategy_has_an_example(example: Callable[[str], Any]) -> None:
    kinds = {name: ModelRollout.model_validate(example(name)).spec.strategy.kind for name in EXPECTED}
    assert kinds == {
        "blue-green.yaml": "blueGreen",
        "canary.yaml": "canary",
        "drift-gated.yaml": "canary",
        "monitored.yaml": "canary",
        "shadow.yaml": "shadow",
    }
