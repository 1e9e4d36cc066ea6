"""Statistical comparison: fail only on significant harm of a size that matters.

Two shapes of data, each with a one-sided test in the direction `compare.worseIf` names:

- Proportions (`successes` of `count`: error rate, agreement, accuracy): Fisher's exact test
  on the 2x2 table. It is exact at any count, so a canary's few requests and rare events
  (0 errors of 40) get a valid p-value where a normal-approximation z-test does not; scipy
  computes it from the hypergeometric distribution in microseconds even at millions of
  requests. It conditions on the margins and so errs conservative, towards not rolling back
  on noise. Barnard's and Boschloo's tests are more powerful but cost grows with n squared.
- Distributions (`histogram`: latency, scores): the Mann-Whitney U test on samples rebuilt
  from the histograms, each bin's midpoint repeated by its count. U depends only on ranks,
  and binning keeps the order between bins and turns values within a bin into ties, which
  scipy's tie-corrected asymptotic p-value accounts for; the test loses only the resolution
  inside a bin. Its effect size is the difference of the rebuilt means, which moves with a
  shift inside a bin where a binned median would not.

Failed needs both a p-value below 1 - confidence and a candidate worse than stable by more
than `compare.tolerance` (in the metric's units); significant harm within tolerance passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from controller.analysis.judges.evidence import is_rate, result, show, show_delta, show_p, significance_level
from controller.analysis.judges.samples import UnusableObservation, events, reconstruct
from controller.analysis.observations import AnalysisResult, MetricObservation, VariantSample
from controller.api.metrics import Comparison, MetricSpec
from controller.api.status import Verdict

__all__ = ["judge"]


@dataclass(frozen=True)
class _Test:
    """A one-sided test's outcome with the values whose difference is the effect size."""

    name: str
    p_value: float
    candidate: float
    stable: float
    rate: bool
    measure: str  # what the values are, for the reason: "" or "mean "


def judge(metric: MetricSpec, observation: MetricObservation) -> AnalysisResult:
    comparison = metric.compare
    if comparison is None:
        raise ValueError(f"metric {metric.name!r} has no compare; expected it for a statistical judgement")
    candidate, stable = observation.candidate, observation.stable
    if candidate is None or stable is None:
        missing = "candidate" if candidate is None else "stable"
        return result(Verdict.INCONCLUSIVE, f"{metric.name}: no {missing} measurement to compare", observation)
    test = _run(metric, comparison, candidate, stable)
    if test is None:
        return result(Verdict.INCONCLUSIVE, f"{metric.name}: a variant has no observations to compare", observation)
    return _decide(metric, comparison, observation, test)


def _run(metric: MetricSpec, comparison: Comparison, candidate: VariantSample, stable: VariantSample) -> _Test | None:
    alternative = "greater" if comparison.worse_if == "higher" else "less"
    candidate_events, stable_events = events(candidate, "candidate"), events(stable, "stable")
    if candidate_events is not None and stable_events is not None:
        return _fisher(candidate_events, stable_events, alternative)
    if candidate.histogram is not None and stable.histogram is not None:
        candidate_values = reconstruct(candidate.histogram.edges, candidate.histogram.counts)
        stable_values = reconstruct(stable.histogram.edges, stable.histogram.counts)
        return _mann_whitney(candidate_values, stable_values, alternative)
    raise UnusableObservation(
        f"compare on {metric.name!r} needs successes of count or a histogram for both variants; the source gave neither"
    )


def _fisher(candidate: tuple[int, int], stable: tuple[int, int], alternative: str) -> _Test | None:
    (hits, count), (stable_hits, stable_count) = candidate, stable
    if count == 0 or stable_count == 0:
        return None
    table = [[hits, count - hits], [stable_hits, stable_count - stable_hits]]
    p_value = float(stats.fisher_exact(table, alternative=alternative).pvalue)
    return _Test("fisher", p_value, hits / count, stable_hits / stable_count, rate=True, measure="")


def _mann_whitney(candidate: np.ndarray, stable: np.ndarray, alternative: str) -> _Test | None:
    if candidate.size == 0 or stable.size == 0:
        return None
    p_value = float(stats.mannwhitneyu(candidate, stable, alternative=alternative).pvalue)
    return _Test("mannwhitneyu", p_value, float(candidate.mean()), float(stable.mean()), rate=False, measure="mean ")


def _decide(metric: MetricSpec, comparison: Comparison, observation: MetricObservation, test: _Test) -> AnalysisResult:
    alpha = significance_level(comparison)
    rate = test.rate or is_rate(metric)
    worse_by = test.candidate - test.stable if comparison.worse_if == "higher" else test.stable - test.candidate
    head = f"{metric.name} {test.measure}{show(test.candidate, rate)} vs stable {show(test.stable, rate)}"
    significant = bool(test.p_value < alpha)  # a NaN p-value is never significant
    if significant and worse_by > comparison.tolerance:
        verdict, reason = Verdict.FAILED, f"{head}: worse at p={show_p(test.p_value)} < {show_p(alpha)}"
    elif significant:
        size = f"{show_delta(worse_by, rate)}, not more than the tolerance {show_delta(comparison.tolerance, rate)}"
        verdict, reason = Verdict.PASSED, f"{head}: worse at p={show_p(test.p_value)} but by {size}"
    else:
        verdict = Verdict.PASSED
        reason = f"{head}: not significantly worse (p={show_p(test.p_value)} >= {show_p(alpha)})"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=test.candidate,
        stable_value=test.stable,
        statistic=test.name,
        statistic_value=test.p_value,
        threshold=alpha,
    )
