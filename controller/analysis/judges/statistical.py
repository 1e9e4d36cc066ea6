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
  the tie-corrected asymptotic p-value accounts for; the test loses only the resolution
  inside a bin. Its effect size is the difference of the rebuilt means, which moves with a
  shift inside a bin where a binned median would not. A bin's values are one tie group, so
  U, its tie correction and the means come from the counts in O(bins), with the result
  scipy's `mannwhitneyu` (asymptotic, continuity-corrected) gives on the rebuilt samples, at
  every look and whatever the traffic, without rebuilding millions of values.

A window is judged again at every interval while its samples grow, and a rollout tests several
metrics over several steps, so a look's p-value is not held against 1 - confidence itself: its
normal score becomes anytime-valid evidence over the comparison's effective samples
(`controller.analysis.sequential`), and 1 - confidence is split evenly over the rollout's
`tests` (Bonferroni). A candidate no worse than stable is then Failed at any look of any of them
with a chance of at most 1 - confidence, for the rollout as a whole.

Failed needs both an anytime p-value below that share and a candidate worse than stable by more
than `compare.tolerance` (in the metric's units); significant harm within tolerance passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from controller.analysis.judges.evidence import is_rate, result, show, show_delta, show_p, significance_level
from controller.analysis.judges.samples import UnusableObservation, events, representatives
from controller.analysis.observations import AnalysisResult, MetricObservation, VariantSample
from controller.analysis.sequential import effective_samples, one_sided_evidence, z_of
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
    samples: float  # effective samples: how much evidence a look of this size can carry


def judge(metric: MetricSpec, observation: MetricObservation, tests: int = 1) -> AnalysisResult:
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
    return _decide(metric, comparison, observation, test, tests)


def _run(metric: MetricSpec, comparison: Comparison, candidate: VariantSample, stable: VariantSample) -> _Test | None:
    alternative = "greater" if comparison.worse_if == "higher" else "less"
    candidate_events, stable_events = events(candidate, "candidate"), events(stable, "stable")
    if candidate_events is not None and stable_events is not None:
        return _fisher(candidate_events, stable_events, alternative)
    if candidate.histogram is not None and stable.histogram is not None:
        if candidate.histogram.edges != stable.histogram.edges:
            raise UnusableObservation(
                f"candidate histogram edges {candidate.histogram.edges} differ from stable's"
                f" {stable.histogram.edges}; expected the same bins"
            )
        points = representatives(candidate.histogram.edges)
        if not np.all(np.isfinite(points)):
            raise UnusableObservation(f"histogram edges {candidate.histogram.edges} leave a bin with no finite edge")
        return _mann_whitney(points, candidate.histogram.counts, stable.histogram.counts, alternative)
    raise UnusableObservation(
        f"compare on {metric.name!r} needs successes of count or a histogram for both variants; the source gave neither"
    )


def _fisher(candidate: tuple[int, int], stable: tuple[int, int], alternative: str) -> _Test | None:
    (hits, count), (stable_hits, stable_count) = candidate, stable
    if count == 0 or stable_count == 0:
        return None
    table = [[hits, count - hits], [stable_hits, stable_count - stable_hits]]
    p_value = float(stats.fisher_exact(table, alternative=alternative).pvalue)
    samples = effective_samples(count, stable_count)
    return _Test("fisher", p_value, hits / count, stable_hits / stable_count, rate=True, measure="", samples=samples)


def _mann_whitney(points: np.ndarray, candidate: list[int], stable: list[int], alternative: str) -> _Test | None:
    """One-sided Mann-Whitney U of the rebuilt samples, from the bin counts (each bin one tie group)."""
    ours, theirs = np.asarray(candidate, dtype=np.float64), np.asarray(stable, dtype=np.float64)
    n1, n2 = ours.sum(), theirs.sum()
    if n1 == 0 or n2 == 0:
        return None
    ties = ours + theirs
    total = n1 + n2
    ranks = np.cumsum(ties) - (ties - 1) / 2  # the mean rank within each bin's tie group
    u = float(ours @ ranks) - n1 * (n1 + 1) / 2
    spread = n1 * n2 / 12 * ((total + 1) - float(np.sum(ties**3 - ties)) / (total * (total - 1)))
    sign = 1.0 if alternative == "greater" else -1.0
    deviation = sign * (u - n1 * n2 / 2) - 0.5  # continuity correction, as scipy applies it
    p_value = float(special.ndtr(-deviation / np.sqrt(spread))) if spread > 0 else float("nan")
    means = float(ours @ points / n1), float(theirs @ points / n2)
    return _Test("mannwhitneyu", p_value, means[0], means[1], False, "mean ", effective_samples(int(n1), int(n2)))


def _decide(
    metric: MetricSpec, comparison: Comparison, observation: MetricObservation, test: _Test, tests: int
) -> AnalysisResult:
    alpha = significance_level(comparison, tests)
    p_value = one_sided_evidence(z_of(test.p_value), test.samples, alpha).p_value
    rate = test.rate or is_rate(metric)
    worse_by = test.candidate - test.stable if comparison.worse_if == "higher" else test.stable - test.candidate
    head = f"{metric.name} {test.measure}{show(test.candidate, rate)} vs stable {show(test.stable, rate)}"
    look = f"{test.name} p={show_p(test.p_value)} at this look"
    significant = bool(p_value < alpha)  # a NaN p-value is never significant
    if significant and worse_by > comparison.tolerance:
        verdict, reason = Verdict.FAILED, f"{head}: worse at anytime p={show_p(p_value)} < {show_p(alpha)} ({look})"
    elif significant:
        size = f"{show_delta(worse_by, rate)}, not more than the tolerance {show_delta(comparison.tolerance, rate)}"
        verdict, reason = Verdict.PASSED, f"{head}: worse at anytime p={show_p(p_value)} but by {size}"
    else:
        verdict = Verdict.PASSED
        reason = f"{head}: not significantly worse (anytime p={show_p(p_value)} >= {show_p(alpha)}; {look})"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=test.candidate,
        stable_value=test.stable,
        statistic=test.name,
        statistic_value=p_value,
        threshold=alpha,
    )
