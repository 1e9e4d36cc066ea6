"""minSamples is held against the count a source reports, and never passes for a source that counts nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from controller.analysis.judge import judge
from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import DEFAULT_MIN_SAMPLES, MetricSpec
from controller.api.status import Verdict

PROMETHEUS = {"address": "http://prometheus:9090", "query": "sum(rate(errors_total[5m]))"}


def observed(candidate: VariantSample) -> MetricObservation:
    return MetricObservation(metric="m", candidate=candidate)


def test_unset_min_samples_holds_a_counted_sample_to_the_default() -> None:
    metric = MetricSpec.model_validate({"name": "m", "router": {"metric": "errorRate"}, "max": 0.05})
    assert metric.min_samples is None and metric.sample_minimum == DEFAULT_MIN_SAMPLES == 50
    result = judge(metric, observed(VariantSample(count=49, successes=0)))
    assert result.verdict is Verdict.INCONCLUSIVE and "49 of 50 samples needed" in result.reason


def test_a_sample_its_source_did_not_count_is_judged_as_it_is() -> None:
    metric = MetricSpec.model_validate({"name": "m", "prometheus": PROMETHEUS, "max": 0.05})
    result = judge(metric, observed(VariantSample(count=1, value=0.2, counted=False)))
    assert result.verdict is Verdict.FAILED and result.candidate_samples == 1


def test_an_uncounted_source_with_no_value_is_inconclusive_not_passed() -> None:
    metric = MetricSpec.model_validate({"name": "m", "prometheus": PROMETHEUS, "max": 0.05})
    result = judge(metric, observed(VariantSample(count=0, counted=False)))
    assert result.verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("count", [0, 10])
def test_min_samples_on_a_prometheus_query_that_counts_nothing_is_refused(count: int) -> None:
    with pytest.raises(ValidationError, match="nothing counts the samples"):
        MetricSpec.model_validate({"name": "m", "prometheus": PROMETHEUS, "max": 0.05, "minSamples": count})


def test_min_samples_with_a_samples_query_is_held_to_its_count() -> None:
    source: dict[str, Any] = {**PROMETHEUS, "samplesQuery": "sum(requests_total)"}
    metric = MetricSpec.model_validate({"name": "m", "prometheus": source, "max": 0.05, "minSamples": 100})
    result = judge(metric, observed(VariantSample(count=99, value=0.01)))
    assert result.verdict is Verdict.INCONCLUSIVE and "99 of 100" in result.reason


def test_a_quantile_needs_ten_samples_beyond_it_when_min_samples_is_unset() -> None:
    """A p99 of 500 samples is one of their five largest; unset, the minimum is 1000, set, it is what is said."""
    sample = VariantSample(count=500, value=0.2)
    p99 = MetricSpec.model_validate({"name": "m", "router": {"metric": "latencyP99"}, "max": 0.5})
    result = judge(p99, observed(sample))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason == "m: candidate has 500 of 1000 samples needed"
    said = MetricSpec.model_validate({"name": "m", "router": {"metric": "latencyP99"}, "max": 0.5, "minSamples": 100})
    assert judge(said, observed(sample)).verdict is Verdict.PASSED
    p50 = MetricSpec.model_validate({"name": "m", "router": {"metric": "latencyP50"}, "max": 0.5})
    assert judge(p50, observed(sample)).verdict is Verdict.PASSED
