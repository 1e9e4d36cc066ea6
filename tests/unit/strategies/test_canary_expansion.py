"""Canary: the user's steps one for one, then the promotion."""

from __future__ import annotations

import pytest
from strategy_specs import ERROR_RATE, LATENCY, spec

from controller.api.spec import HeaderRouteStep
from controller.errors import SpecError
from controller.strategies import (
    DEFAULT_SCALE_DOWN_DELAY_S,
    Analysis,
    Pause,
    Promote,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    candidate_replicas,
    ends_in_verdict,
    expand,
)


def test_each_user_step_becomes_one_engine_step_then_promote() -> None:
    steps = expand(
        spec(
            {
                "canary": {
                    "steps": [
                        {"setMirror": 100},
                        {"setHeaderRoute": {"header": "x-tester", "value": "yes"}},
                        {"setWeight": 10},
                        {"pause": {"duration": "2m"}},
                        {"pause": {}},
                        {"analysis": {"interval": "45s", "count": 3, "metrics": [ERROR_RATE]}},
                        {"setWeight": 100},
                    ]
                }
            }
        )
    )

    assert steps[:5] == [
        SetMirror(100),
        SetHeaderRoute(HeaderRouteStep(header="x-tester", value="yes")),
        SetWeight(10),
        Pause(duration_s=120.0),
        Pause(duration_s=None),
    ]
    analysis = steps[5]
    assert isinstance(analysis, Analysis)
    assert (analysis.scope, analysis.interval_s, analysis.count) == ("step 5", 45.0, 3)
    assert [m.name for m in analysis.metrics] == ["error-rate"]
    assert steps[6:] == [SetWeight(100), Promote(scale_down_delay_s=DEFAULT_SCALE_DOWN_DELAY_S)]
    assert not ends_in_verdict(steps)


def test_an_analysis_step_without_metrics_runs_the_background_metrics() -> None:
    steps = expand(
        spec(
            {"canary": {"steps": [{"setWeight": 50}, {"analysis": {"count": 2}}, {"setWeight": 100}]}},
            analysis={"interval": "1m", "metrics": [ERROR_RATE, LATENCY]},
        )
    )

    analysis = steps[1]
    assert isinstance(analysis, Analysis)
    assert [m.name for m in analysis.metrics] == ["error-rate", "latency-p99"]
    assert analysis.interval_s == 30.0  # the step's own interval, not the background one


def test_an_analysis_step_with_no_metrics_anywhere_names_the_field() -> None:
    with pytest.raises(SpecError) as caught:
        expand(spec({"canary": {"steps": [{"setWeight": 50}, {"analysis": {}}, {"setWeight": 100}]}}))

    assert caught.value.path == ".spec.strategy.canary.steps[1].analysis.metrics"


@pytest.mark.parametrize(("fields", "size"), [({}, 4), ({"candidateReplicas": 1}, 1)])
def test_the_candidate_runs_at_its_fixed_size_or_the_stable_size(fields: dict[str, int], size: int) -> None:
    rollout_spec = spec({"canary": {"steps": [{"setWeight": 100}], **fields}}, replicas=4)

    assert candidate_replicas(rollout_spec) == size
