"""maxIncrease: the candidate against stable, in absolute units or percent of stable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.analysis.judge import judge
from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]


def _pair(observe: ObservationFactory, candidate: float, stable: float) -> MetricObservation:
    return observe(candidate=VariantSample(count=100, value=candidate), stable=VariantSample(count=100, value=stable))


def test_absolute_increase_over_the_limit_fails(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(router="latencyP99", maxIncrease={"absolute": 0.05}), _pair(observe, 0.31, 0.2))
    assert result.verdict is Verdict.FAILED
    assert (result.candidate_value, result.stable_value, result.threshold) == (0.31, 0.2, 0.05)
    assert result.statistic == "increase"
    assert result.statistic_value == pytest.approx(0.11)
    assert result.reason == "m 0.31 vs stable 0.2: change +0.11 is more than the allowed increase 0.05"


def test_absolute_increase_at_the_limit_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(router="latencyP99", maxIncrease={"absolute": 0.5}), _pair(observe, 1.5, 1.0))
    assert result.verdict is Verdict.PASSED


def test_rates_read_in_percentage_points(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(
        candidate=VariantSample(count=1000, successes=30), stable=VariantSample(count=1000, successes=10)
    )
    result = judge(metric(maxIncrease={"absolute": 0.01}), observation)
    assert result.verdict is Verdict.FAILED
    assert (
        result.reason
        == "m 3% vs stable 1%: change +2 percentage points is more than the allowed increase 1 percentage points"
    )


@pytest.mark.parametrize(
    ("candidate", "stable", "verdict", "percent"),
    [
        (230.0, 200.0, Verdict.FAILED, 15.0),
        (210.0, 200.0, Verdict.PASSED, 5.0),
        (150.0, 200.0, Verdict.PASSED, -25.0),
        (-9.5, -10.0, Verdict.PASSED, 5.0),
        (-8.0, -10.0, Verdict.FAILED, 20.0),
    ],
)
def test_percent_of_the_stable_magnitude(
    metric: MetricFactory,
    observe: ObservationFactory,
    candidate: float,
    stable: float,
    verdict: Verdict,
    percent: float,
) -> None:
    result = judge(metric(router="latencyP99", maxIncrease={"percent": 10}), _pair(observe, candidate, stable))
    assert result.verdict is verdict
    assert result.statistic_value == pytest.approx(percent)
    assert result.threshold == 10


def test_percent_of_a_zero_stable_allows_no_increase(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(maxIncrease={"percent": 50})
    up = judge(spec, _pair(observe, 0.001, 0.0))
    assert up.verdict is Verdict.FAILED
    assert up.statistic_value is None
    assert "stable is 0" in up.reason and "maxIncrease.absolute" in up.reason
    same = judge(spec, _pair(observe, 0.0, 0.0))
    assert (same.verdict, same.statistic_value) == (Verdict.PASSED, 0.0)
    assert judge(spec, _pair(observe, -1.0, 0.0)).verdict is Verdict.PASSED


def test_missing_stable_value_is_inconclusive(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(candidate=VariantSample(count=100, value=1.0), stable=VariantSample(count=100))
    result = judge(metric(maxIncrease={"percent": 10}), observation)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no stable value" in result.reason


@pytest.mark.parametrize(
    ("limit", "candidate", "stable"), [({"percent": 10}, 1.8e306, 1.0), ({"absolute": 1}, 1.7e308, -1.7e308)]
)
def test_a_change_past_float_range_fails_with_no_infinite_number_in_the_evidence(
    metric: MetricFactory, observe: ObservationFactory, limit: dict[str, float], candidate: float, stable: float
) -> None:
    result = judge(metric(router="latencyP99", maxIncrease=limit), _pair(observe, candidate, stable))
    assert result.verdict is Verdict.FAILED and result.statistic_value is None


def test_an_increase_equal_to_the_limit_but_for_float_rounding_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    """p99s read off bucket edges: 0.2 - 0.05 is 0.15000000000000002 in floats, which is the allowed 0.15."""
    observation = observe(candidate=VariantSample(count=100, value=0.2), stable=VariantSample(count=100, value=0.05))
    result = judge(metric(router="latencyP99", maxIncrease={"absolute": 0.15}, minSamples=10), observation)
    assert result.verdict is Verdict.PASSED
