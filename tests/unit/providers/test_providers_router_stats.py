"""The router-stats provider: the counters a router keeps, read back as the observations the judges take.

The stats come from the router's own counters (`router.measure.Measurements`), fed calls as the
proxy feeds them, so the test reads what a real `/stats` would carry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.api.metrics import MetricSpec
from controller.providers.router_stats import observe_router_metric, quantile, to_bins
from router.measure import Measurements
from router.stats import LATENCY_BUCKETS_S, Histogram, RouterStats, VariantStats

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WINDOW_START = NOW - timedelta(seconds=10)
PREDICTION_EDGES = (-1.0, 0.0, 0.5, 1.0)


def metric(router_metric: str, **judgement: Any) -> MetricSpec:
    name = "".join(f"-{c.lower()}" if c.isupper() else c for c in router_metric)
    return MetricSpec.model_validate({"name": name, "router": {"metric": router_metric}, **(judgement or {"max": 1.0})})


def counters() -> Measurements:
    return Measurements(PREDICTION_EDGES, max_labels=8)


def snapshot(measurements: Measurements) -> RouterStats:
    return measurements.snapshot("router-0", NOW - timedelta(minutes=5), generation=3)


def calls(measurements: Measurements, variant: str, count: int, status: int = 200, latency_s: float = 0.003) -> None:
    for _ in range(count):
        measurements.variants[variant].observe(status, latency_s)


def test_error_rate_counts_5xx_and_calls_without_an_answer_out_of_every_request() -> None:
    m = counters()
    calls(m, "stable", 98)
    calls(m, "stable", 2, status=503)
    calls(m, "candidate", 45)
    calls(m, "candidate", 4, status=500)
    m.variants["candidate"].fail("connect", 0.001)

    observation = observe_router_metric(metric("errorRate"), snapshot(m), WINDOW_START, NOW)

    assert observation.candidate is not None and observation.stable is not None
    assert (observation.candidate.count, observation.candidate.successes, observation.candidate.value) == (50, 5, 0.1)
    assert (observation.stable.count, observation.stable.successes, observation.stable.value) == (100, 2, 0.02)
    assert (observation.window_start, observation.window_end) == (WINDOW_START, NOW)


def test_a_4xx_is_the_clients_problem_not_an_error_of_the_model() -> None:
    m = counters()
    calls(m, "candidate", 10, status=404)

    observation = observe_router_metric(metric("errorRate"), snapshot(m), WINDOW_START, NOW)

    assert observation.candidate is not None and observation.candidate.value == 0.0


def test_request_rate_is_per_second_of_the_window_and_unknown_without_one() -> None:
    m = counters()
    calls(m, "candidate", 30)
    calls(m, "stable", 270)
    stats = snapshot(m)

    timed = observe_router_metric(metric("requestRate"), stats, WINDOW_START, NOW)
    untimed = observe_router_metric(metric("requestRate"), stats, None, NOW)

    assert timed.candidate is not None and timed.stable is not None
    assert (timed.candidate.value, timed.stable.value) == (3.0, 27.0)
    assert untimed.candidate is not None and (untimed.candidate.count, untimed.candidate.value) == (30, None)


def test_latency_quantiles_read_the_upper_edge_of_the_bucket_that_holds_them() -> None:
    m = counters()
    calls(m, "candidate", 98, latency_s=0.003)  # the (0.002, 0.005] bucket
    calls(m, "candidate", 2, latency_s=1.5)  # the (1.0, 2.0] bucket
    stats = snapshot(m)

    p50 = observe_router_metric(metric("latencyP50"), stats, WINDOW_START, NOW).candidate
    p99 = observe_router_metric(metric("latencyP99"), stats, WINDOW_START, NOW).candidate

    assert p50 is not None and p99 is not None
    assert (p50.value, p99.value, p99.count) == (0.005, 2.0, 100)
    assert p99.histogram is not None and sum(p99.histogram.counts) == 100


def test_the_latency_distribution_comes_whole_with_a_mean_from_bin_midpoints() -> None:
    m = counters()
    calls(m, "stable", 4, latency_s=0.015)  # (0.01, 0.02]: midpoint 0.015

    observation = observe_router_metric(metric("latency", maxIncrease={"percent": 10}), snapshot(m), WINDOW_START, NOW)

    assert observation.stable is not None and observation.stable.value == pytest.approx(0.015)
    assert observation.candidate is not None and (observation.candidate.count, observation.candidate.value) == (0, None)


def test_shadow_agreement_is_a_proportion_of_the_compared_copies_with_nothing_for_stable() -> None:
    stats = RouterStats.model_validate(
        {"instanceId": "r", "startedAt": NOW.isoformat(), "generation": 1, "shadowComparison": {"compared": 40, "agreed": 30}}
    )

    observation = observe_router_metric(metric("shadowAgreement", min=0.9), stats, WINDOW_START, NOW)

    assert observation.candidate is not None
    assert (observation.candidate.count, observation.candidate.successes, observation.candidate.value) == (40, 30, 0.75)
    assert observation.stable is None


def test_drift_reads_the_shadows_answers_until_the_candidate_answers_live() -> None:
    m = counters()
    m.variants["stable"].predicted([0.2, 0.7, 0.7])
    m.variants["shadow"].predicted([0.9, 0.9])
    drift = metric("predictionDrift")

    as_shadow = observe_router_metric(drift, snapshot(m), WINDOW_START, NOW)
    m.variants["candidate"].predicted([0.1])
    live = observe_router_metric(drift, snapshot(m), WINDOW_START, NOW)

    assert as_shadow.candidate is not None and as_shadow.candidate.count == 2
    assert live.candidate is not None and live.candidate.count == 1
    assert as_shadow.stable is not None and as_shadow.stable.histogram is not None
    # Predictions may be negative: no floor at 0, the outer bins as wide as their neighbours.
    assert as_shadow.stable.histogram.edges == [-2.0, -1.0, 0.0, 0.5, 1.0, 1.5]


def test_drift_of_class_labels_comes_as_categories() -> None:
    m = counters()
    m.variants["stable"].predicted(["cat", "dog", "cat"])

    observation = observe_router_metric(metric("predictionDrift"), snapshot(m), WINDOW_START, NOW)

    assert observation.stable is not None
    assert (observation.stable.count, observation.stable.categories, observation.stable.histogram) == (3, {"cat": 2, "dog": 1}, None)


def test_accuracy_judges_the_shadow_against_the_same_labels_until_the_candidate_is_labelled() -> None:
    base = {"instance_id": "r", "started_at": NOW, "generation": 1}
    shadowed = RouterStats(**base, stable=VariantStats(labelled=10, correct=9), shadow=VariantStats(labelled=8, correct=6))
    live = shadowed.model_copy(update={"candidate": VariantStats(labelled=4, correct=4)})
    accuracy = metric("accuracy", min=0.8)

    before = observe_router_metric(accuracy, shadowed, WINDOW_START, NOW)
    after = observe_router_metric(accuracy, live, WINDOW_START, NOW)

    assert before.candidate is not None and (before.candidate.count, before.candidate.value) == (8, 0.75)
    assert after.candidate is not None and (after.candidate.count, after.candidate.value) == (4, 1.0)
    assert before.stable is not None and before.stable.value == 0.9


def test_a_metric_without_a_router_source_is_refused_by_name() -> None:
    prometheus = MetricSpec.model_validate(
        {"name": "p99-from-prometheus", "prometheus": {"address": "http://127.0.0.1:9090", "query": "up"}, "max": 1}
    )
    stats = snapshot(counters())

    with pytest.raises(ValueError, match="'p99-from-prometheus' has no router source"):
        observe_router_metric(prometheus, stats, WINDOW_START, NOW)


def test_quantile_of_nothing_is_unknown_and_of_the_overflow_is_the_last_edge() -> None:
    empty = Histogram.empty(LATENCY_BUCKETS_S)
    overflow = Histogram(edges=(0.1, 0.2), counts=(0, 0, 5))

    assert quantile(empty, 0.99) is None
    assert quantile(overflow, 0.5) == 0.2


def test_latency_bins_start_at_zero_not_below_it() -> None:
    bins = to_bins(Histogram(edges=(0.5, 1.0, 3.0), counts=(1, 2, 3, 4)))

    assert bins.edges == [0.0, 0.5, 1.0, 3.0, 5.0]
    assert bins.counts == [1, 2, 3, 4]
