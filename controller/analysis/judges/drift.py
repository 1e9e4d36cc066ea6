"""Prediction drift: how far the candidate's predictions are distributed from the stable's.

The population stability index compares the two distributions bin by bin (numeric
predictions in histograms on the same edges, or counts of categorical predictions):

    PSI = sum((c - s) * ln(c / s)) = KL(c || s) + KL(s || c)

over the bins' shares c and s. A bin empty on one side would make PSI infinite, so every share
is raised by EPSILON = 1e-4 and the shares renormalised before the sum: an empty bin then costs
a bounded amount that still grows with the share it holds on the other side. The usual bands
read PSI below 0.1 as stable, 0.1 to 0.25 as a moderate shift and above 0.25 as significant.

With `min`/`max` the PSI is held against the bounds, both ways beyond chance (at the rollout's
share of 1 - DEFAULT_CONFIDENCE), and is Inconclusive until then. A PSI above `max` fails only once
the test below finds the distributions different: PSI over 20 bins of two samples of a few hundred
predictions from one distribution reads about 0.1 to 0.2 by chance alone. A PSI below `max` passes
only once it is below beyond chance (`_anytime_below`): a model whose predictions truly drifted
past `max` can read a little under it, and is measured again rather than promoted. A `min` is held
as read. With `compare` a test of "same distribution" decides, failing when its anytime p-value is
below the rollout's share of 1 - confidence (see `statistical`: the look's p-value read as a
chi-squared statistic on the table's degrees of freedom becomes anytime-valid evidence over the
effective samples) and the PSI exceeds `compare.tolerance`, with the test chosen by sample size:

- numeric, every expected bin count >= 5 (Cochran's rule): chi-squared on the 2 x bins table;
- numeric, smaller samples: two-sample Kolmogorov-Smirnov on the rebuilt samples, whose exact
  distribution scipy uses for small samples (conservative on binned, tied values);
- categorical: chi-squared on the 2 x categories table, or Fisher's exact test when there are
  just two categories and an expected count is below 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats
from scipy.stats.contingency import expected_freq

from controller.analysis.judges.bounds import check_bounds
from controller.analysis.judges.evidence import result, show_p, significance_level
from controller.analysis.judges.samples import UnusableObservation, reconstruct
from controller.analysis.observations import AnalysisResult, BinCounts, MetricObservation, VariantSample
from controller.analysis.sequential import effective_samples, one_sided_evidence, spread_evidence, z_of
from controller.api.metrics import Comparison, MetricSpec
from controller.api.status import Verdict

__all__ = ["EPSILON", "MIN_EXPECTED", "MODERATE_SHIFT", "SIGNIFICANT_SHIFT", "judge", "population_stability_index", "psi_band"]

EPSILON = 1e-4
MODERATE_SHIFT = 0.1
SIGNIFICANT_SHIFT = 0.25
# Cochran's rule: a chi-squared test is trusted when every expected count is at least this.
MIN_EXPECTED = 5.0

Counts = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Paired:
    """Both variants' counts over the same bins; `edges` only for numeric histograms."""

    candidate: Counts
    stable: Counts
    edges: list[float] | None


def population_stability_index(candidate: Counts, stable: Counts) -> float:
    """PSI of two count vectors over the same bins, with each share raised by EPSILON."""
    candidate_shares = candidate / candidate.sum() + EPSILON
    stable_shares = stable / stable.sum() + EPSILON
    candidate_shares /= candidate_shares.sum()
    stable_shares /= stable_shares.sum()
    # KL(c || s) + KL(s || c) in one sum; the judge runs at every look, so no scipy call overhead.
    return float(np.sum((candidate_shares - stable_shares) * np.log(candidate_shares / stable_shares)))


def psi_band(psi: float) -> str:
    if psi < MODERATE_SHIFT:
        return f"stable, < {MODERATE_SHIFT:g}"
    if psi <= SIGNIFICANT_SHIFT:
        return f"moderate shift, {MODERATE_SHIFT:g}-{SIGNIFICANT_SHIFT:g}"
    return f"significant shift, > {SIGNIFICANT_SHIFT:g}"


def judge(metric: MetricSpec, observation: MetricObservation, tests: int = 1) -> AnalysisResult:
    if metric.compare is None and metric.min_ is None and metric.max_ is None:
        reason = f"{metric.name} measures prediction drift, which only min/max on PSI or compare can judge"
        return result(Verdict.ERROR, reason, observation)
    paired = _pair(observation.candidate, observation.stable)
    if isinstance(paired, str):
        return result(Verdict.INCONCLUSIVE, f"{metric.name}: {paired}", observation)
    psi = population_stability_index(paired.candidate, paired.stable)
    if metric.compare is not None:
        return _tested(metric, metric.compare, observation, paired, psi, tests)
    return _bounded(metric, observation, paired, psi, tests)


def _pair(candidate: VariantSample | None, stable: VariantSample | None) -> _Paired | str:
    """Both variants' counts on shared bins, or why there is nothing to compare."""
    if candidate is None or (candidate.histogram is None and candidate.categories is None):
        return "no prediction distribution from candidate"
    if stable is None or (stable.histogram is None and stable.categories is None):
        return "no prediction distribution from stable"
    if candidate.histogram is not None and stable.histogram is not None:
        paired = _pair_histograms(candidate.histogram, stable.histogram)
    elif candidate.categories is not None and stable.categories is not None:
        paired = _pair_categories(candidate.categories, stable.categories)
    else:
        raise UnusableObservation("one variant's predictions are a histogram and the other's are categories")
    if paired.candidate.sum() == 0 or paired.stable.sum() == 0:
        return "a variant has no predictions in its distribution"
    return paired


def _pair_histograms(candidate: BinCounts, stable: BinCounts) -> _Paired:
    if candidate.edges != stable.edges:
        raise UnusableObservation(
            f"candidate histogram edges {candidate.edges} differ from stable's {stable.edges}; expected the same bins"
        )
    return _Paired(
        np.asarray(candidate.counts, dtype=np.int64), np.asarray(stable.counts, dtype=np.int64), candidate.edges
    )


def _pair_categories(candidate: dict[str, int], stable: dict[str, int]) -> _Paired:
    if any(count < 0 for count in (*candidate.values(), *stable.values())):
        raise UnusableObservation("category counts must be >= 0")
    labels = sorted(candidate.keys() | stable.keys())
    candidate_counts = np.array([candidate.get(label, 0) for label in labels], dtype=np.int64)
    stable_counts = np.array([stable.get(label, 0) for label in labels], dtype=np.int64)
    return _Paired(candidate_counts, stable_counts, edges=None)


def _bounded(metric: MetricSpec, observation: MetricObservation, paired: _Paired, psi: float, tests: int) -> AnalysisResult:
    check = check_bounds(metric, psi)
    verdict = Verdict.PASSED if check.passed else Verdict.FAILED
    side = "within" if check.passed else ("below" if check.bound == "min" else "above")
    reason = f"{metric.name} PSI {psi:.3g} ({psi_band(psi)}) is {side} {check.bound} {check.threshold:g}"
    alpha = significance_level(None, tests)
    if not check.passed and check.bound == "max":
        name, p_value = _anytime_difference(paired, alpha)
        if p_value >= alpha:
            verdict = Verdict.INCONCLUSIVE
            reason += f", not yet beyond chance ({name} anytime p={show_p(p_value)} >= {show_p(alpha)})"
    elif check.passed and metric.max_ is not None:
        p_value = _anytime_below(paired, psi, metric.max_, alpha)
        if p_value < alpha:
            reason += f" (anytime p={show_p(p_value)} < {show_p(alpha)} that it is not)"
        else:
            verdict = Verdict.INCONCLUSIVE
            reason += f", not yet beyond chance (anytime p={show_p(p_value)} >= {show_p(alpha)} that it is not)"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=psi,
        statistic="psi",
        statistic_value=psi,
        threshold=check.threshold,
    )


def _anytime_below(paired: _Paired, psi: float, limit: float, alpha: float) -> float:
    """Anytime p-value of "the true PSI is `limit` or more", on a reading below it.

    PSI times the effective samples n1 n2 / (n1 + n2) is, for two samples over B bins from one
    distribution, close to chi-squared on B - 1 degrees of freedom (Yurdakul 2018, "Statistical
    properties of population stability index"); between two distributions it is, as a
    chi-squared statistic is under nearby alternatives, noncentral by the true PSI times the same
    samples. The look's p-value is that distribution's lower tail at the reading, with the true PSI
    on the limit (tests/unit/analysis/test_anytime_confidence.py checks the rate it passes at).
    """
    samples = effective_samples(int(paired.candidate.sum()), int(paired.stable.sum()))
    degrees = max(int(np.count_nonzero(paired.candidate + paired.stable)) - 1, 1)
    if limit <= 0:  # PSI cannot be below 0: `max: 0` is held as read, as a rate's bound on its edge is
        return 0.0
    look_p = float(special.chndtr(psi * samples, degrees, limit * samples))
    return one_sided_evidence(z_of(look_p), samples, alpha).p_value


def _anytime_difference(paired: _Paired, alpha: float) -> tuple[str, float]:
    """(test name, anytime p-value) of "both variants predict from the same distribution"."""
    name, look_p, degrees = _same_distribution_test(paired)
    samples = effective_samples(int(paired.candidate.sum()), int(paired.stable.sum()))
    return name, spread_evidence(_chi_square_of(look_p, degrees), degrees, samples, alpha).p_value


def _tested(
    metric: MetricSpec, comparison: Comparison, observation: MetricObservation, paired: _Paired, psi: float, tests: int
) -> AnalysisResult:
    alpha = significance_level(comparison, tests)
    name, look_p, _ = _same_distribution_test(paired)
    _, p_value = _anytime_difference(paired, alpha)
    significant = bool(p_value < alpha)
    failed = significant and psi > comparison.tolerance
    head = f"{metric.name} PSI {psi:.3g} ({psi_band(psi)})"
    look = f"{name} p={show_p(look_p)} at this look"
    if failed:
        reason = f"{head}: distributions differ at anytime p={show_p(p_value)} < {show_p(alpha)} ({look})"
    elif significant:
        reason = f"{head}: differ at anytime p={show_p(p_value)} but PSI is not above the tolerance {comparison.tolerance:g}"
    else:
        reason = f"{head}: no significant difference (anytime p={show_p(p_value)} >= {show_p(alpha)}; {look})"
    verdict = Verdict.FAILED if failed else Verdict.PASSED
    return result(
        verdict, reason, observation, candidate_value=psi, statistic=name, statistic_value=p_value, threshold=alpha
    )


def _same_distribution_test(paired: _Paired) -> tuple[str, float, int]:
    """(test name, p-value, degrees of freedom) of "both variants predict from the same distribution"."""
    table = np.vstack([paired.candidate, paired.stable])
    table = table[:, table.sum(axis=0) > 0]
    degrees = max(table.shape[1] - 1, 1)
    small = table.shape[1] > 1 and bool(expected_freq(table).min() < MIN_EXPECTED)
    if small and paired.edges is not None:
        candidate = reconstruct(paired.edges, paired.candidate)
        stable = reconstruct(paired.edges, paired.stable)
        return "ks", float(stats.ks_2samp(candidate, stable).pvalue), 1
    if small and table.shape[1] == 2:
        return "fisher", float(stats.fisher_exact(table).pvalue), 1
    return "chi2", float(stats.chi2_contingency(table).pvalue), degrees


def _chi_square_of(p_value: float, degrees: int) -> float:
    """The chi-squared statistic on `degrees` whose upper tail is `p_value` (a NaN p-value: no evidence)."""
    if not p_value == p_value:
        return 0.0
    return float(special.chdtri(degrees, min(max(p_value, 1e-300), 1.0)))
