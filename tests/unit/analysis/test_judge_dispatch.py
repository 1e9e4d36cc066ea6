"""The order of checks in `judge` and the choice of judge per judgement kind."""

from __future__ import annotations

import math
from collections.abc import Callable

from controller.analysis.judge import judge
from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]


def test_provider_error_wins_over_everything(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(max=0.05)
    observation = observe(error="prometheus at http://prom:9090 unreachable: ConnectError", verdict=Verdict.PASSED)
    result = judge(spec, observation)
    assert result.verdict is Verdict.ERROR
    assert "prometheus at http://prom:9090 unreachable" in result.reason


def test_webhook_verdict_is_taken_even_without_samples(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(max=0.05)
    result = judge(spec, observe(verdict=Verdict.FAILED))
    assert result.verdict is Verdict.FAILED
    assert "webhook answered Failed" in result.reason


def test_bounds_need_candidate_samples_only(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(max=0.05)
    short = judge(spec, observe(candidate=VariantSample(count=7, value=0.01)))
    assert short.verdict is Verdict.INCONCLUSIVE
    assert "7 of 10 samples" in short.reason
    assert short.candidate_samples == 7
    assert judge(spec, observe(candidate=VariantSample(count=10, value=0.01))).verdict is Verdict.PASSED


def test_comparisons_need_samples_on_both_variants(metric: MetricFactory, observe: ObservationFactory) -> None:
    for spec in (metric(maxIncrease={"absolute": 0.01}), metric(compare={})):
        result = judge(
            spec, observe(candidate=VariantSample(count=500, value=0.01), stable=VariantSample(count=3, value=0.01))
        )
        assert result.verdict is Verdict.INCONCLUSIVE
        assert "stable has 3 of 10 samples" in result.reason
        assert (result.candidate_samples, result.stable_samples) == (500, 3)


def test_missing_variant_counts_as_zero_samples(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(compare={}), observe(candidate=VariantSample(count=100, successes=1)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "stable has 0 of 10 samples" in result.reason


def test_value_without_a_judgement_is_an_error(observe: ObservationFactory) -> None:
    spec = MetricSpec.model_validate({"name": "m", "webhook": {"url": "http://127.0.0.1:9/judge"}})
    result = judge(spec, observe(candidate=VariantSample(count=100, value=0.3)))
    assert result.verdict is Verdict.ERROR
    assert "not a verdict" in result.reason


def test_unusable_numbers_are_an_error_naming_them(metric: MetricFactory, observe: ObservationFactory) -> None:
    too_many = judge(metric(max=0.05), observe(candidate=VariantSample(count=20, successes=25)))
    assert too_many.verdict is Verdict.ERROR
    assert "successes 25 exceed its count 20" in too_many.reason
    not_a_number = judge(metric(max=0.05), observe(candidate=VariantSample(count=20, value=math.nan)))
    assert not_a_number.verdict is Verdict.ERROR
    assert "nan is not a finite number" in not_a_number.reason


def test_prediction_drift_goes_to_the_drift_judge_whatever_the_kind(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    histogram = BinCounts(edges=[0.0, 0.5, 1.0], counts=[30, 30])
    sample = VariantSample(count=60, histogram=histogram)
    result = judge(metric(router="predictionDrift", max=0.2), observe(candidate=sample, stable=sample))
    assert (result.verdict, result.statistic, result.statistic_value) == (Verdict.PASSED, "psi", 0.0)
    assert result.stable_samples == 60


def test_each_kind_reaches_its_judge(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = VariantSample(count=100, successes=5), VariantSample(count=100, successes=4)
    observation = observe(candidate=candidate, stable=stable)
    assert judge(metric(max=0.1), observation).statistic == "max"
    assert judge(metric(maxIncrease={"percent": 50}), observation).statistic == "increase_percent"
    assert judge(metric(compare={}), observation).statistic == "fisher"
