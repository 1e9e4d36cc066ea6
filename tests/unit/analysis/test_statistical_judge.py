"""compare: Fisher's exact test on proportions, Mann-Whitney U on histograms, with an effect-size guard.

A look's p-value is read as anytime-valid evidence over the comparison's effective samples: the
judge reports that anytime p-value and names the look's own in its reason.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from controller.analysis.judge import judge
from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.analysis.sequential import effective_samples, one_sided_evidence, z_of
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]

EDGES = [0.0, 10.0, 20.0, 50.0, 100.0, float("inf")]
# Bin midpoints, and the finite edge of the open last bin, written out by hand.
POINTS = np.array([5.0, 15.0, 35.0, 75.0, 100.0])


def _anytime(look_p: float, candidate: int, stable: int, alpha: float = 0.05) -> float:
    return one_sided_evidence(z_of(look_p), effective_samples(candidate, stable), alpha).p_value


def _rates(observe: ObservationFactory, candidate: tuple[int, int], stable: tuple[int, int]) -> MetricObservation:
    return observe(
        candidate=VariantSample(successes=candidate[0], count=candidate[1]),
        stable=VariantSample(successes=stable[0], count=stable[1]),
    )


def _histograms(observe: ObservationFactory, candidate: list[int], stable: list[int]) -> MetricObservation:
    return observe(
        candidate=VariantSample(count=sum(candidate), histogram=BinCounts(edges=EDGES, counts=candidate)),
        stable=VariantSample(count=sum(stable), histogram=BinCounts(edges=EDGES, counts=stable)),
    )


def test_higher_error_rate_fails_with_fishers_p_value(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(compare={"confidence": 0.95}), _rates(observe, (41, 1000), (9, 1000)))
    look = stats.fisher_exact([[41, 959], [9, 991]], alternative="greater").pvalue
    anytime = _anytime(look, 1000, 1000)
    assert result.verdict is Verdict.FAILED
    assert result.statistic == "fisher"
    assert look < anytime == pytest.approx(result.statistic_value)
    assert result.threshold == pytest.approx(0.05)
    assert (result.candidate_value, result.stable_value) == (0.041, 0.009)
    assert result.reason == f"m 4.1% vs stable 0.9%: worse at anytime p={anytime:.2g} < 0.05 (fisher p={look:.2g} at this look)"


def test_noise_in_a_small_canary_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(compare={}), _rates(observe, (2, 40), (10, 400)))
    look = stats.fisher_exact([[2, 38], [10, 390]], alternative="greater").pvalue
    assert result.verdict is Verdict.PASSED
    assert result.statistic_value == pytest.approx(_anytime(look, 40, 400))
    assert "not significantly worse" in result.reason


def test_one_looks_significance_is_not_enough(metric: MetricFactory, observe: ObservationFactory) -> None:
    """p < 0.05 at one look of a window that is looked at again and again is what peeking finds by chance."""
    observation = _rates(observe, (30, 1000), (15, 1000))
    look = stats.fisher_exact([[30, 970], [15, 985]], alternative="greater").pvalue
    result = judge(metric(compare={}), observation)
    assert look < 0.05 <= _anytime(look, 1000, 1000)
    assert result.verdict is Verdict.PASSED
    assert f"fisher p={look:.2g} at this look" in result.reason


def test_the_confidence_is_shared_over_the_rollouts_tests(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = _rates(observe, (60, 1000), (25, 1000))
    alone, shared = judge(metric(compare={}), observation), judge(metric(compare={}), observation, tests=50)
    assert (alone.threshold, shared.threshold) == (pytest.approx(0.05), pytest.approx(0.001))
    assert (alone.verdict, shared.verdict) == (Verdict.FAILED, Verdict.PASSED)


def test_lower_is_worse_for_accuracy(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(router="accuracy", compare={"worseIf": "lower", "confidence": 0.99})
    worse = judge(spec, _rates(observe, (850, 1000), (920, 1000)))
    assert worse.verdict is Verdict.FAILED
    look = stats.fisher_exact([[850, 150], [920, 80]], alternative="less").pvalue
    assert worse.statistic_value == pytest.approx(_anytime(look, 1000, 1000, alpha=0.01))
    assert worse.threshold == pytest.approx(0.01)
    better = judge(spec, _rates(observe, (990, 1000), (920, 1000)))
    assert better.verdict is Verdict.PASSED


def test_significant_harm_within_tolerance_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    spec = metric(compare={"tolerance": 0.05})
    result = judge(spec, _rates(observe, (400, 10000), (300, 10000)))
    assert stats.fisher_exact([[400, 9600], [300, 9700]], alternative="greater").pvalue < 0.05
    assert result.verdict is Verdict.PASSED
    assert "but by 1 percentage points, not more than the tolerance 5 percentage points" in result.reason
    stricter = metric(compare={"tolerance": 0.005})
    assert judge(stricter, _rates(observe, (400, 10000), (300, 10000))).verdict is Verdict.FAILED


def test_slower_latency_fails_with_mann_whitney_on_rebuilt_samples(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    candidate, stable = [100, 200, 300, 300, 100], [200, 300, 300, 100, 100]
    result = judge(metric(router="latency", compare={}), _histograms(observe, candidate, stable))
    look = stats.mannwhitneyu(np.repeat(POINTS, candidate), np.repeat(POINTS, stable), alternative="greater").pvalue
    assert result.verdict is Verdict.FAILED
    assert result.statistic == "mannwhitneyu"
    assert result.statistic_value == pytest.approx(_anytime(look, 1000, 1000))
    assert f"mannwhitneyu p={look:.2g} at this look" in result.reason
    assert result.candidate_value == pytest.approx(np.average(POINTS, weights=candidate))
    assert result.stable_value == pytest.approx(np.average(POINTS, weights=stable))
    assert result.reason.startswith("m mean 46.5 vs stable 33.5: worse at anytime p=")


def test_mann_whitney_from_counts_matches_scipy_on_the_rebuilt_samples(
    metric: MetricFactory, observe: ObservationFactory
) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        candidate, stable = rng.integers(0, 40, 5).tolist(), rng.integers(0, 40, 5).tolist()
        for worse_if, alternative in (("higher", "greater"), ("lower", "less")):
            spec = metric(router="latency", compare={"worseIf": worse_if}, minSamples=0)
            result = judge(spec, _histograms(observe, candidate, stable))
            rebuilt = np.repeat(POINTS, candidate), np.repeat(POINTS, stable)
            look = stats.mannwhitneyu(*rebuilt, alternative=alternative).pvalue
            assert f"mannwhitneyu p={look:.2g} at this look" in result.reason


def test_histograms_on_different_bins_are_an_error(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(
        candidate=VariantSample(count=100, histogram=BinCounts(edges=[0.0, 1.0, 2.0], counts=[50, 50])),
        stable=VariantSample(count=100, histogram=BinCounts(edges=[0.0, 1.5, 2.0], counts=[50, 50])),
    )
    result = judge(metric(router="latency", compare={}), observation)
    assert result.verdict is Verdict.ERROR
    assert "differ from stable's" in result.reason


def test_faster_latency_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(
        metric(router="latency", compare={}), _histograms(observe, [20, 30, 30, 10, 10], [10, 20, 30, 30, 10])
    )
    assert result.verdict is Verdict.PASSED


def test_latency_shift_smaller_than_tolerance_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = [900, 1100, 0, 0, 0], [1100, 900, 0, 0, 0]
    spec = metric(router="latency", compare={"tolerance": 1.0})
    result = judge(spec, _histograms(observe, candidate, stable))
    assert result.statistic_value is not None and result.statistic_value < 0.05
    assert (result.candidate_value, result.stable_value) == (10.5, 9.5)
    assert result.verdict is Verdict.PASSED
    stricter = metric(router="latency", compare={"tolerance": 0.5})
    assert judge(stricter, _histograms(observe, candidate, stable)).verdict is Verdict.FAILED


def test_no_observations_is_inconclusive(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(metric(compare={}, minSamples=0), _rates(observe, (0, 0), (3, 100)))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no observations" in result.reason


def test_values_alone_cannot_be_compared(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(candidate=VariantSample(count=100, value=0.2), stable=VariantSample(count=100, value=0.1))
    result = judge(metric(compare={}), observation)
    assert result.verdict is Verdict.ERROR
    assert "needs successes of count or a histogram for both variants" in result.reason
