"""Absolute bounds on the candidate's value."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.analysis.judge import judge
from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]


def test_above_max_fails_with_the_numbers(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(max=0.02), observe(candidate=VariantSample(count=1000, successes=41)))
    assert result.verdict is Verdict.FAILED
    assert result.candidate_value == pytest.approx(41 / 1000)
    assert (result.statistic, result.statistic_value, result.threshold) == ("max", 41 / 1000, 0.02)
    assert result.reason.startswith("m 4.1% is above max 2% (anytime p=")
    assert result.reason.endswith("< 0.05 over 1000 samples)")


def test_below_min_fails(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(router="accuracy", min=0.9), observe(candidate=VariantSample(count=200, successes=150)))
    assert result.verdict is Verdict.FAILED
    assert (result.statistic, result.threshold) == ("min", 0.9)
    assert result.reason.startswith("m 75% is below min 90% (anytime p=")


def test_a_counted_rate_past_its_bound_by_chance_is_measured_again(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    """170 right of 200 is 85%, but a true 90% gives that often enough that it is no proof: Inconclusive."""
    result = judge(metric(router="accuracy", min=0.9), observe(candidate=VariantSample(count=200, successes=170)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason.startswith("m 85% is below min 90% on 200 samples, not yet beyond chance (anytime p=")
    more = judge(metric(router="accuracy", min=0.9), observe(candidate=VariantSample(count=2000, successes=1700)))
    assert more.verdict is Verdict.FAILED


def test_a_bound_of_zero_fails_on_the_first_event(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(max=0.0), observe(candidate=VariantSample(count=10, successes=1)))
    assert result.verdict is Verdict.FAILED


def test_a_value_without_counts_is_held_against_the_bound_as_read(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    result = judge(metric(max=0.02), observe(candidate=VariantSample(count=60, value=0.0333)))
    assert result.verdict is Verdict.FAILED
    assert result.reason == "m 3.33% is above max 2%"


def test_value_given_by_the_source_wins_over_counts(metric: MetricFactory, observe: ObservationFactory) -> None:
    sample = VariantSample(count=200, value=0.01, successes=100)
    result = judge(metric(max=0.05), observe(candidate=sample))
    assert result.verdict is Verdict.PASSED
    assert result.candidate_value == 0.01


@pytest.mark.parametrize(
    ("value", "verdict", "bound", "threshold"),
    [
        (0.5, Verdict.FAILED, "min", 1.0),
        (1.2, Verdict.PASSED, "min", 1.0),
        (1.9, Verdict.PASSED, "max", 2.0),
        (2.0, Verdict.PASSED, "max", 2.0),
        (2.5, Verdict.FAILED, "max", 2.0),
    ],
)
def test_threshold_is_the_violated_or_closest_bound(
    metric: MetricFactory, observe: ObservationFactory, value: float, verdict: Verdict, bound: str, threshold: float
) -> None:
    result = judge(
        metric(router="latencyP99", min=1.0, max=2.0), observe(candidate=VariantSample(count=50, value=value))
    )
    assert (result.verdict, result.statistic, result.threshold) == (verdict, bound, threshold)


def test_passed_reason_names_the_range_and_stable_is_reported(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    observation = observe(candidate=VariantSample(count=50, value=0.12), stable=VariantSample(count=50, value=0.11))
    result = judge(metric(router="latencyP99", min=0.1, max=0.25), observation)
    assert result.reason == "m 0.12 is within 0.1..0.25"
    assert result.stable_value == 0.11


def test_no_value_is_inconclusive(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(max=0.05, minSamples=0), observe(candidate=VariantSample(count=0, successes=0)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no candidate value" in result.reason


def test_a_counted_rate_within_its_bound_by_chance_is_measured_again(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    """38 of 40 agree (95%), but a true 90% gives that often enough that it is no proof of being within: Inconclusive."""
    result = judge(metric(router="shadowAgreement", min=0.9), observe(candidate=VariantSample(count=40, successes=38)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason.startswith("m 95% is within min 90% on 40 samples, not yet beyond chance (anytime p=")
    more = judge(metric(router="shadowAgreement", min=0.9), observe(candidate=VariantSample(count=2000, successes=1900)))
    assert more.verdict is Verdict.PASSED
    assert more.reason.startswith("m 95% is within min 90% (anytime p=")
    assert more.reason.endswith("< 0.05 over 2000 samples)")


def test_a_counted_rate_in_a_range_passes_only_when_clear_of_both_bounds(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    """Clear of the min but only just under the max: the max decides, and holds it Inconclusive."""
    spec = metric(router="errorRate", min=0.01, max=0.1)
    near_max = judge(spec, observe(candidate=VariantSample(count=1000, successes=95)))
    assert near_max.verdict is Verdict.INCONCLUSIVE
    assert near_max.threshold == 0.1
    clear = judge(spec, observe(candidate=VariantSample(count=1000, successes=50)))
    assert clear.verdict is Verdict.PASSED
    assert clear.reason.startswith("m 5% is within 1%..10% (anytime p=")


def test_a_bound_of_zero_is_met_as_read(metric: MetricFactory, observe: ObservationFactory) -> None:
    """No count proves a rate of exactly 0: `max: 0` passes a reading of none, as read."""
    result = judge(metric(max=0.0), observe(candidate=VariantSample(count=10, successes=0)))
    assert result.verdict is Verdict.PASSED


def test_a_bound_no_rate_can_cross_passes_any_reading(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(router="shadowAgreement", min=0.0), observe(candidate=VariantSample(count=20, successes=0)))
    assert result.verdict is Verdict.PASSED
