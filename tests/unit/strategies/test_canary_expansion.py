"""Canary: the user's steps one for one, then the promotion."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError
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


@pytest.mark.parametrize(
    ("replicas", "share", "size"),
    [(4, 0, 1), (4, 10, 1), (4, 25, 1), (4, 26, 2), (4, 50, 2), (4, 99, 4), (4, 100, 4), (10, 33, 4), (0, 50, 1), (0, 100, 1)],
)
def test_by_default_the_candidate_follows_its_share_rounded_up_and_at_least_one(replicas: int, share: int, size: int) -> None:
    rollout_spec = spec({"canary": {"steps": [{"setWeight": 100}]}}, replicas=replicas)

    assert candidate_replicas(rollout_spec, Fraction(share)) == size


@pytest.mark.parametrize("share", [0, 10, 100])
def test_an_explicit_candidate_size_is_honoured_at_any_share(share: int) -> None:
    rollout_spec = spec({"canary": {"steps": [{"setWeight": 100}], "candidateReplicas": 3}}, replicas=10)

    assert candidate_replicas(rollout_spec, Fraction(share)) == 3


def test_a_candidate_size_of_zero_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        spec({"canary": {"steps": [{"setWeight": 100}], "candidateReplicas": 0}})

    (error,) = caught.value.errors()
    assert error["loc"][-1] == "candidateReplicas" and error["type"] == "greater_than_equal"
