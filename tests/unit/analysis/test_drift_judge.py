"""Prediction drift: PSI against bounds, or a same-distribution test chosen by sample size."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from controller.analysis.judge import judge
from controller.analysis.judges.drift import population_stability_index
from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.analysis.sequential import effective_samples, spread_evidence
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]

EDGES = [0.0, 1.0, 2.0, 3.0]
POINTS = np.array([0.5, 1.5, 2.5])


def _psi_by_hand(candidate: list[int], stable: list[int], epsilon: float = 1e-4) -> float:
    """sum((p - q) * ln(p / q)) over shares raised by epsilon and renormalised, written out in full."""
    p = [c / sum(candidate) + epsilon for c in candidate]
    q = [s / sum(stable) + epsilon for s in stable]
    p = [x / sum(p) for x in p]
    q = [x / sum(q) for x in q]
    return sum((a - b) * math.log(a / b) for a, b in zip(p, q, strict=True))


def _numeric(
    observe: ObservationFactory, candidate: list[int], stable: list[int], edges: list[float] = EDGES
) -> MetricObservation:
    return observe(
        candidate=VariantSample(count=sum(candidate), histogram=BinCounts(edges=edges, counts=candidate)),
        stable=VariantSample(count=sum(stable), histogram=BinCounts(edges=edges, counts=stable)),
    )


def _categorical(observe: ObservationFactory, candidate: dict[str, int], stable: dict[str, int]) -> MetricObservation:
    return observe(
        candidate=VariantSample(count=sum(candidate.values()), categories=candidate),
        stable=VariantSample(count=sum(stable.values()), categories=stable),
    )


def test_psi_on_a_tiny_example_matches_the_hand_calculation() -> None:
    psi = population_stability_index(np.array([50, 50]), np.array([25, 75]))
    assert psi == pytest.approx(_psi_by_hand([50, 50], [25, 75]), rel=1e-12)
    # Without smoothing: 0.25 ln 2 + 0.25 ln 1.5; epsilon moves it by far less than a band.
    assert psi == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5), abs=1e-3)


def test_an_empty_bin_costs_a_bounded_amount() -> None:
    psi = population_stability_index(np.array([100, 0]), np.array([50, 50]))
    assert psi == pytest.approx(_psi_by_hand([100, 0], [50, 50]), rel=1e-12)
    assert 4.0 < psi < 5.0


@pytest.mark.parametrize(
    ("stable", "verdict", "band"),
    [
        ([480, 520], Verdict.PASSED, "(stable, < 0.1)"),
        ([300, 700], Verdict.INCONCLUSIVE, "(moderate shift, 0.1-0.25)"),
        ([250, 750], Verdict.FAILED, "(significant shift, > 0.25)"),
    ],
)
def test_psi_against_max_names_the_band(
    metric: MetricFactory, observe: ObservationFactory, stable: list[int], verdict: Verdict, band: str
) -> None:
    result = judge(
        metric(router="predictionDrift", max=0.25), _numeric(observe, [500, 500], stable, edges=[0.0, 0.5, 1.0])
    )
    psi = _psi_by_hand([500, 500], stable)
    assert result.verdict is verdict
    assert (result.statistic, result.threshold) == ("psi", 0.25)
    assert result.statistic_value == pytest.approx(psi)
    assert result.candidate_value == pytest.approx(psi)
    assert band in result.reason


def test_psi_above_max_on_few_predictions_is_measured_again(metric: MetricFactory, observe: ObservationFactory) -> None:
    """PSI 0.27 of 100 predictions a side could be chance: Inconclusive until the counts show a difference."""
    observation = _numeric(observe, [50, 50], [25, 75], edges=[0.0, 0.5, 1.0])
    result = judge(metric(router="predictionDrift", max=0.25), observation)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "is above max 0.25, not yet beyond chance (chi2 anytime p=" in result.reason


def test_psi_below_max_passes_once_it_is_below_beyond_chance(metric: MetricFactory, observe: ObservationFactory) -> None:
    """PSI 0.17 on 1000 a side could hide a true 0.25; PSI 0.0004 on as many could not."""
    close = judge(metric(router="predictionDrift", max=0.25), _numeric(observe, [500, 500], [300, 700], edges=[0.0, 0.5, 1.0]))
    assert close.verdict is Verdict.INCONCLUSIVE
    assert "is within max 0.25, not yet beyond chance (anytime p=" in close.reason
    clear = judge(metric(router="predictionDrift", max=0.25), _numeric(observe, [500, 500], [490, 510], edges=[0.0, 0.5, 1.0]))
    assert clear.verdict is Verdict.PASSED
    assert "is within max 0.25 (anytime p=" in clear.reason
    assert clear.reason.endswith("that it is not)")


def test_a_psi_max_of_zero_is_held_as_read(metric: MetricFactory, observe: ObservationFactory) -> None:
    """No count shows a PSI of exactly 0 beyond chance: identical shares pass `max: 0` as read."""
    result = judge(metric(router="predictionDrift", max=0.0), _numeric(observe, [500, 500], [500, 500], edges=[0.0, 0.5, 1.0]))
    assert result.verdict is Verdict.PASSED


def test_categories_missing_on_one_side_count_as_empty(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = {"cat": 60, "dog": 40}, {"cat": 50, "dog": 45, "bird": 5}
    result = judge(metric(router="predictionDrift", max=0.1), _categorical(observe, candidate, stable))
    # Labels in sorted order: bird, cat, dog.
    assert result.statistic_value == pytest.approx(_psi_by_hand([0, 60, 40], [5, 50, 45]))


def _anytime(look_p: float, degrees: int, candidate: int, stable: int, alpha: float = 0.05) -> float:
    chi_square = stats.chi2.isf(look_p, degrees)
    return spread_evidence(chi_square, degrees, effective_samples(candidate, stable), alpha).p_value


def test_large_numeric_samples_use_chi_squared_on_bins(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = [5000, 3000, 2000], [4500, 3500, 2000]
    result = judge(metric(router="predictionDrift", compare={"confidence": 0.95}), _numeric(observe, candidate, stable))
    look = stats.chi2_contingency(np.array([candidate, stable])).pvalue
    assert result.statistic == "chi2"
    assert result.statistic_value == pytest.approx(_anytime(look, 2, 10000, 10000))
    assert result.threshold == pytest.approx(0.05)
    assert result.verdict is Verdict.FAILED
    assert f"chi2 p={look:.2g} at this look" in result.reason


def test_one_looks_significant_drift_is_not_enough(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = [500, 300, 200], [450, 350, 200]
    look = stats.chi2_contingency(np.array([candidate, stable])).pvalue
    result = judge(metric(router="predictionDrift", compare={}), _numeric(observe, candidate, stable))
    assert look < 0.05
    assert result.verdict is Verdict.PASSED
    assert "no significant difference" in result.reason


def test_small_numeric_samples_use_kolmogorov_smirnov(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = [6, 2, 0], [0, 2, 6]
    result = judge(metric(router="predictionDrift", compare={}, minSamples=5), _numeric(observe, candidate, stable))
    look = stats.ks_2samp(np.repeat(POINTS, candidate), np.repeat(POINTS, stable)).pvalue
    assert result.statistic == "ks"
    assert result.statistic_value == pytest.approx(_anytime(look, 1, 8, 8))
    assert f"ks p={look:.2g} at this look" in result.reason
    # Eight predictions a side cannot carry evidence that holds at every look.
    assert result.verdict is Verdict.PASSED


def test_categorical_predictions_use_chi_squared(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = {"cat": 500, "dog": 300}, {"cat": 300, "dog": 500, "bird": 10}
    result = judge(metric(router="predictionDrift", compare={}), _categorical(observe, candidate, stable))
    look = stats.chi2_contingency(np.array([[0, 500, 300], [10, 300, 500]])).pvalue
    assert (result.statistic, result.verdict) == ("chi2", Verdict.FAILED)
    assert result.statistic_value == pytest.approx(_anytime(look, 2, 800, 810))


def test_two_sparse_categories_use_fishers_exact_test(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = {"yes": 3, "no": 1}, {"yes": 1, "no": 3}
    result = judge(metric(router="predictionDrift", compare={}, minSamples=4), _categorical(observe, candidate, stable))
    look = stats.fisher_exact([[1, 3], [3, 1]]).pvalue
    assert result.statistic == "fisher"
    assert f"fisher p={look:.2g} at this look" in result.reason
    assert result.verdict is Verdict.PASSED


def test_significant_drift_below_the_tolerance_passes(metric: MetricFactory, observe: ObservationFactory) -> None:
    candidate, stable = [5200, 4800, 0], [4800, 5200, 0]
    observation = _numeric(observe, candidate, stable)
    lenient = judge(metric(router="predictionDrift", compare={"tolerance": 0.01}), observation)
    assert lenient.statistic_value is not None and lenient.statistic_value < 0.05
    assert lenient.candidate_value == pytest.approx(_psi_by_hand(candidate, stable))
    assert lenient.candidate_value is not None and lenient.candidate_value < 0.01
    assert lenient.verdict is Verdict.PASSED
    assert judge(metric(router="predictionDrift", compare={}), observation).verdict is Verdict.FAILED


def test_no_distribution_is_inconclusive(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(candidate=VariantSample(count=100, value=0.3), stable=VariantSample(count=100, value=0.2))
    result = judge(metric(router="predictionDrift", max=0.2), observation)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "no prediction distribution from candidate" in result.reason
    empty = judge(metric(router="predictionDrift", max=0.2, minSamples=0), _numeric(observe, [0, 0, 0], [1, 2, 3]))
    assert empty.verdict is Verdict.INCONCLUSIVE


def test_mismatched_bins_are_an_error(metric: MetricFactory, observe: ObservationFactory) -> None:
    observation = observe(
        candidate=VariantSample(count=20, histogram=BinCounts(edges=[0.0, 1.0, 2.0], counts=[10, 10])),
        stable=VariantSample(count=20, histogram=BinCounts(edges=[0.0, 1.5, 2.0], counts=[10, 10])),
    )
    result = judge(metric(router="predictionDrift", max=0.2), observation)
    assert result.verdict is Verdict.ERROR
    assert "differ from stable's" in result.reason
    mixed = observe(
        candidate=VariantSample(count=20, histogram=BinCounts(edges=[0.0, 1.0, 2.0], counts=[10, 10])),
        stable=VariantSample(count=20, categories={"a": 20}),
    )
    assert judge(metric(router="predictionDrift", max=0.2), mixed).verdict is Verdict.ERROR


def test_max_increase_cannot_judge_drift(metric: MetricFactory, observe: ObservationFactory) -> None:
    result = judge(
        metric(router="predictionDrift", maxIncrease={"absolute": 0.1}), _numeric(observe, [5, 5, 5], [5, 5, 5])
    )
    assert result.verdict is Verdict.ERROR
    assert "only min/max on PSI or compare" in result.reason
