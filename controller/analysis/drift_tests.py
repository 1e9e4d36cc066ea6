"""Drift of a model's inputs and answers from a reference: one two-sample test per feature, Holm across them (pure).

Both sides are counts on the router's cells (numbers on its fixed feature bins, other values by
category), and both are samples: the reference is a capture or a training set, not the true
distribution, so each feature gets a two-sample test of "same distribution" on its 2 x cells table:

- a chi-squared test when Cochran's rule holds (every expected count at least MIN_EXPECTED), on
  Cressie and Read's power divergence rather than Pearson's sum (see `_power_divergence`). Sparse cells
  are first pooled, neighbouring bins with neighbouring bins in order and rare categories
  together, until every pooled cell holds enough; the pooling reads only the two sides' combined
  counts, so the test stays valid. A category only one side has stays a cell of its own while it
  holds enough values, so a new category (or strings where there were only numbers) is seen;
- when no pooling leaves two cells that hold enough (fewer than about 10 values on a side):
  numbers only, Kolmogorov-Smirnov on the binned CDFs with scipy's exact or asymptotic
  distribution (conservative, since binned values tie); otherwise Fisher's exact test on the
  table pooled into two cells.

Holm's correction across the features tested keeps the chance that one check flags any undrifted
feature at most alpha, whatever the dependence between features. A feature is drifted when its
adjusted p-value is below alpha *and* its PSI (drift.population_stability_index, over the
unpooled cells) is at least the floor, so a tiny shift in a large sample is not flagged.

What "at most alpha" covers, and what it does not:
- the values counted are the sample size: a request with many instances gives many values, which
  are not independent when a client batches similar rows, and then the tests are too sure. The
  router's counts carry no request boundaries; the sampled requests bound the information;
- the rate is per check, over both the window and the reference drawn afresh. One fixed reference
  that happens to sit far from the truth is found different by many later windows (bench/drift_alarms
  measures how many); the PSI floor is what keeps such a reference from raising alarms;
- a capped side (the router counts at most `maxFeatureCategories` categories, the rest under
  OTHER_CATEGORY) may hide any category it does not list in its overflow, so the other side's
  categories that the capped side does not list are pooled into the overflow before testing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from controller.analysis.judges.drift import MIN_EXPECTED, population_stability_index
from controller.api.monitoring import DataDriftSpec, FeatureCounts, FeatureFinding, PredictionDriftSpec

__all__ = ["OTHER_CATEGORY", "PREDICTIONS", "IncomparableCounts", "feature_drift", "holm", "prediction_drift"]

# The router's name for values of categories past its cap (router.features, router.measure).
OTHER_CATEGORY = "__other__"
PREDICTIONS = "predictions"

Counts = npt.NDArray[np.int64]
# Cressie and Read's recommended power: between Pearson's chi-squared (1) and the G-test (0).
_LAMBDA = 2.0 / 3.0


class IncomparableCounts(ValueError):
    """Two sides counted on different bins, or with negative counts: no test can compare them."""


@dataclass(frozen=True)
class _Cells:
    """Both sides' counts over the same cells: the first `ordered` are numeric bins, in order; then categories."""

    reference: Counts
    current: Counts
    ordered: int


@dataclass(frozen=True)
class _Tested:
    feature: str
    test: str
    p_value: float
    psi: float
    samples: int
    reference_samples: int


def feature_drift(
    reference: Mapping[str, FeatureCounts], current: Mapping[str, FeatureCounts], spec: DataDriftSpec
) -> list[FeatureFinding]:
    """Every feature with at least `spec.min_samples` current values (and a reference), tested; lowest adjusted p first."""
    names = spec.features if spec.features is not None else sorted(reference.keys() & current.keys())
    tested = [_test(name, reference[name], current[name]) for name in names if _testable(name, reference, current, spec.min_samples)]
    adjusted = holm([t.p_value for t in tested])
    findings = [_finding(t, p, spec.alpha, spec.min_psi) for t, p in zip(tested, adjusted)]
    return sorted(findings, key=lambda f: (f.adjusted_p_value, f.p_value, f.feature))


def prediction_drift(reference: FeatureCounts, current: FeatureCounts, spec: PredictionDriftSpec) -> FeatureFinding | None:
    """The predictions' test against the reference's, named PREDICTIONS; None while either side has too few."""
    if reference.total == 0 or current.total < spec.min_samples:
        return None
    tested = _test(PREDICTIONS, reference, current)
    return _finding(tested, tested.p_value, spec.alpha, spec.min_psi)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the k-th smallest times (m - k + 1), kept monotone."""
    count = len(p_values)
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(sorted(range(count), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _testable(name: str, reference: Mapping[str, FeatureCounts], current: Mapping[str, FeatureCounts], min_samples: int) -> bool:
    return name in reference and name in current and reference[name].total > 0 and current[name].total >= min_samples


def _finding(tested: _Tested, adjusted: float, alpha: float, min_psi: float) -> FeatureFinding:
    return FeatureFinding(
        feature=tested.feature,
        test=tested.test,
        p_value=tested.p_value,
        adjusted_p_value=adjusted,
        psi=tested.psi,
        samples=tested.samples,
        reference_samples=tested.reference_samples,
        drifted=adjusted < alpha and tested.psi >= min_psi,
    )


def _test(name: str, reference: FeatureCounts, current: FeatureCounts) -> _Tested:
    cells = _cells(name, reference, current)
    test, p_value = _same_distribution(cells)
    psi = population_stability_index(cells.current, cells.reference)
    return _Tested(name, test, p_value, psi, int(cells.current.sum()), int(cells.reference.sum()))


def _cells(name: str, reference: FeatureCounts, current: FeatureCounts) -> _Cells:
    """Both sides on shared cells, dropping cells empty on both; categories by combined count, largest first."""
    reference_bins, current_bins = _bins(name, reference.bins, current.bins)
    reference_categories, current_categories = _folded(reference.categories, current.categories)
    keys = reference_categories.keys() | current_categories.keys()
    combined = {k: reference_categories.get(k, 0) + current_categories.get(k, 0) for k in keys}
    labels = sorted(combined, key=lambda k: (-combined[k], k))
    reference_counts = np.array([*reference_bins, *(reference_categories.get(k, 0) for k in labels)], dtype=np.int64)
    current_counts = np.array([*current_bins, *(current_categories.get(k, 0) for k in labels)], dtype=np.int64)
    if reference_counts.size and min(reference_counts.min(), current_counts.min()) < 0:
        raise IncomparableCounts(f"feature {name!r} has negative counts; expected counts >= 0")
    occupied = reference_counts + current_counts > 0
    ordered = int(occupied[: len(reference_bins)].sum())
    return _Cells(reference_counts[occupied], current_counts[occupied], ordered)


def _bins(name: str, reference: list[int] | None, current: list[int] | None) -> tuple[list[int], list[int]]:
    if reference is not None and current is not None and len(reference) != len(current):
        raise IncomparableCounts(f"feature {name!r}: {len(reference)} reference bins, {len(current)} current; expected the same bins")
    width = len(reference if reference is not None else current or [])
    return reference or [0] * width, current or [0] * width


def _folded(reference: Mapping[str, int], current: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Categories a capped side does not list may be in its overflow: the other side's such categories join its overflow."""
    folded_reference = _fold_into_other(reference, current) if OTHER_CATEGORY in current else dict(reference)
    folded_current = _fold_into_other(current, reference) if OTHER_CATEGORY in reference else dict(current)
    return folded_reference, folded_current


def _fold_into_other(counts: Mapping[str, int], capped: Mapping[str, int]) -> dict[str, int]:
    kept = {k: v for k, v in counts.items() if k in capped and k != OTHER_CATEGORY}
    kept[OTHER_CATEGORY] = sum(counts.values()) - sum(kept.values())
    return kept


def _same_distribution(cells: _Cells) -> tuple[str, float]:
    """(test name, p-value) of "both sides were drawn from one distribution" (see the module doc)."""
    table = np.vstack([cells.reference, cells.current])
    if table.shape[1] < 2:
        return "chi-squared", 1.0
    pooled = _pooled(table, cells.ordered)
    if pooled.shape[1] >= 2:
        return "chi-squared", _power_divergence(pooled)
    if cells.ordered == table.shape[1]:
        positions = np.arange(table.shape[1])
        return "ks", float(stats.ks_2samp(np.repeat(positions, table[0]), np.repeat(positions, table[1])).pvalue)
    return "fisher", float(stats.fisher_exact(_two_cells(table)).pvalue)


def _power_divergence(table: Counts) -> float:
    """The test of homogeneity on Cressie and Read's power divergence (lambda 2/3), over Williams's correction.

    Pearson's statistic on tables like these (cells pooled to an expected count of 5) was measured
    rejecting 1.3 to 1.8 times as often as it should at p of 1e-4 to 5e-4, where Holm asks the first
    of 100 features to be; the power divergence's chi-squared approximation holds further into the tail,
    and Williams's factor q (for the G-test; 1 + a few thousandths here) makes it conservative:
    100 undrifted features flagged 0.016 of checks at alpha 0.01 with Pearson's, 0.010 with this.
    Yates's continuity correction applies on one degree of freedom, as in scipy's
    `chi2_contingency(table, lambda_="cressie-read")`, whose statistic this is; written out because
    its checks cost ten times the arithmetic, and a check tests every feature.
    """
    rows, columns, total = table.sum(axis=1), table.sum(axis=0), table.sum()
    expected = np.outer(rows, columns) / total
    observed = table.astype(np.float64)
    degrees = table.shape[1] - 1
    if degrees == 1:
        gap = expected - observed
        observed = observed + np.sign(gap) * np.minimum(0.5, np.abs(gap))
    terms = observed * ((observed / expected) ** _LAMBDA - 1.0)
    statistic = 2.0 / (_LAMBDA * (_LAMBDA + 1.0)) * float(np.sum(terms))
    williams = 1.0 + (total * np.sum(1.0 / rows) - 1.0) * (total * np.sum(1.0 / columns) - 1.0) / (6.0 * total * degrees)
    return float(special.chdtrc(degrees, max(statistic, 0.0) / williams))


def _pooled(table: Counts, ordered: int) -> Counts:
    """`table` with neighbouring cells merged until each meets Cochran's rule (numbers and categories apart).

    One cell (no test) when the smaller side is too small for two.
    """
    rows = table.sum(axis=1)
    enough = MIN_EXPECTED * int(rows.sum()) / int(rows.min())  # the combined count a cell needs for Cochran's rule
    totals = [int(t) for t in table.sum(axis=0)]
    if min(totals) >= enough:
        return table
    groups = [*_groups(totals, range(ordered), enough), *_groups(totals, range(ordered, len(totals)), enough)]
    groups = _merge_short(groups, totals, enough)
    if len(groups) < 2:
        return table[:, :0]
    return np.stack([table[:, group].sum(axis=1) for group in groups], axis=1)


def _groups(totals: list[int], columns: Iterable[int], enough: float) -> list[list[int]]:
    """Consecutive columns gathered until each group's combined count is `enough`; a short tail joins the last group."""
    groups: list[list[int]] = []
    pending: list[int] = []
    held = 0
    for column in columns:
        pending.append(column)
        held += totals[column]
        if held >= enough:
            groups.append(pending)
            pending, held = [], 0
    if pending and groups:
        groups[-1].extend(pending)
    elif pending:
        groups.append(pending)
    return groups


def _merge_short(groups: list[list[int]], totals: list[int], enough: float) -> list[list[int]]:
    """A group still short of `enough` (a whole segment was) merges with its neighbour."""
    while len(groups) > 1:
        short = next((i for i, group in enumerate(groups) if sum(totals[c] for c in group) < enough), None)
        if short is None:
            break
        low = short if short + 1 < len(groups) else short - 1
        groups[low : low + 2] = [groups[low] + groups[low + 1]]
    return groups


def _two_cells(table: Counts) -> Counts:
    """The largest cell (by combined count) against all the others: a 2 x 2 table for Fisher's exact test."""
    largest = int(table.sum(axis=0).argmax())
    rest = table.sum(axis=1) - table[:, largest]
    return np.stack([table[:, largest], rest], axis=1)
