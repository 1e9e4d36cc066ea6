"""Drift of inputs and predictions from a reference: planted drift is flagged, undrifted data at most alpha of the time."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from controller.analysis.drift_tests import (
    OTHER_CATEGORY,
    PREDICTIONS,
    IncomparableCounts,
    feature_drift,
    holm,
    prediction_drift,
)
from controller.api.monitoring import DataDriftSpec, FeatureCounts, PredictionDriftSpec
from router.features import OTHER_CATEGORY as ROUTER_OTHER_CATEGORY
from router.features import FeatureCounters
from router.stats import FEATURE_EDGES

EDGES = np.asarray(FEATURE_EDGES)
Rng = np.random.Generator
Draw = Callable[[Rng, int], FeatureCounts]


def _numeric(values: np.ndarray) -> FeatureCounts:
    """Values counted as the router counts them: index bisect_left(FEATURE_EDGES, value)."""
    bins = np.bincount(np.searchsorted(EDGES, values, side="left"), minlength=len(EDGES) + 1)
    return FeatureCounts(bins=bins.tolist())


def _categorical(rng: Rng, n: int, shares: dict[str, float]) -> FeatureCounts:
    counts = rng.multinomial(n, list(shares.values()))
    return FeatureCounts(categories={k: int(c) for k, c in zip(shares, counts) if c})


def _normal(rng: Rng, n: int) -> FeatureCounts:
    return _numeric(rng.normal(3.0, 2.0, n))


def _skewed(rng: Rng, n: int) -> FeatureCounts:
    return _numeric(rng.lognormal(2.0, 2.0, n))


def _small_integers(rng: Rng, n: int) -> FeatureCounts:
    # Integers land on the edges themselves (1, 2, 5): the ties the bisect rule must put in one bin.
    return _numeric(rng.poisson(3.0, n).astype(float))


def _colour(rng: Rng, n: int) -> FeatureCounts:
    shares = {"red": 0.4, "green": 0.3, "blue": 0.15, "grey": 0.1, "pink": 0.03, "teal": 0.01, "gold": 0.005, "jade": 0.005}
    return _categorical(rng, n, shares)


def _with_nulls(rng: Rng, n: int) -> FeatureCounts:
    missing = int(rng.binomial(n, 0.05))
    counts = _numeric(rng.normal(0.0, 1.0, n - missing))
    return FeatureCounts(bins=counts.bins, categories={"null": missing} if missing else {})


UNDRIFTED: dict[str, Draw] = {
    "normal": _normal,
    "skewed": _skewed,
    "integers": _small_integers,
    "colour": _colour,
    "with_nulls": _with_nulls,
}


def test_numpy_binning_is_the_routers() -> None:
    values = [*np.random.default_rng(3).lognormal(0.0, 3.0, 500).tolist(), *FEATURE_EDGES, -0.001, 0.0, 1e9, -1e9]
    counters = FeatureCounters(max_features=10, max_categories=10)
    counters.observe([("x", value) for value in values])
    assert counters.features["x"].bins == _numeric(np.asarray(values)).bins
    assert OTHER_CATEGORY == ROUTER_OTHER_CATEGORY


def test_planted_drift_flags_exactly_the_drifted_features() -> None:
    rng = np.random.default_rng(11)
    reference = {name: draw(rng, 5000) for name, draw in UNDRIFTED.items()}
    current = {name: draw(rng, 1000) for name, draw in UNDRIFTED.items()}
    current["normal"] = _numeric(rng.normal(4.0, 2.0, 1000))  # shifted by half a standard deviation
    current["colour"] = _categorical(rng, 1000, {"red": 0.35, "green": 0.3, "blue": 0.15, "grey": 0.1, "violet": 0.1})
    numbers = rng.normal(0.0, 1.0, 850)
    current["with_nulls"] = FeatureCounts(bins=_numeric(numbers).bins, categories={"null": 50, "n/a": 100})
    findings = feature_drift(reference, current, DataDriftSpec())
    assert {f.feature for f in findings if f.drifted} == {"normal", "colour", "with_nulls"}
    assert {f.feature for f in findings} == set(UNDRIFTED)
    assert [f.adjusted_p_value for f in findings] == sorted(f.adjusted_p_value for f in findings)
    assert all(f.test == "chi-squared" and f.samples == 1000 and f.reference_samples == 5000 for f in findings)


def test_a_category_only_the_current_window_has_is_found_on_its_own() -> None:
    reference = {"kind": FeatureCounts(categories={"a": 600, "b": 400})}
    current = {"kind": FeatureCounts(categories={"a": 270, "b": 180, "new": 50})}
    (finding,) = feature_drift(reference, current, DataDriftSpec())
    assert finding.drifted and finding.p_value < 1e-10 and finding.psi > 0.25


def test_strings_where_the_reference_had_only_numbers_are_drift() -> None:
    rng = np.random.default_rng(5)
    reference = {"age": _numeric(rng.normal(40.0, 10.0, 2000))}
    numbers = _numeric(rng.normal(40.0, 10.0, 400))
    current = {"age": FeatureCounts(bins=numbers.bins, categories={"unknown": 60})}
    (finding,) = feature_drift(reference, current, DataDriftSpec())
    assert finding.drifted


def test_a_significant_shift_below_the_psi_floor_is_not_drift() -> None:
    rng = np.random.default_rng(2)
    reference = {"x": _numeric(rng.normal(3.0, 2.0, 200_000))}
    current = {"x": _numeric(rng.normal(3.1, 2.0, 200_000))}
    (finding,) = feature_drift(reference, current, DataDriftSpec(min_psi=0.1))
    assert finding.adjusted_p_value < 1e-6 and finding.psi < 0.1 and not finding.drifted


@pytest.mark.parametrize(
    ("sizes", "alpha"),
    [((5000, 1000), 0.05), ((300, 300), 0.05), ((2000, 400), 0.01)],
    ids=["large-reference", "equal-samples", "alpha-0.01"],
)
def test_undrifted_windows_raise_a_false_alarm_at_most_alpha_of_the_time(sizes: tuple[int, int], alpha: float) -> None:
    """Fresh reference and window per check, five features of different kinds, no PSI floor: the tests alone."""
    rng = np.random.default_rng(20240613)
    spec = DataDriftSpec(alpha=alpha, min_psi=0.0, min_samples=1)
    checks = 2000
    alarms = sum(_alarm(rng, spec, sizes) for _ in range(checks))
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / checks)
    assert alarms / checks <= bound


@pytest.mark.parametrize("draw", [_normal, _colour], ids=["ks", "fisher"])
def test_tiny_samples_fall_back_to_exact_tests_that_hold_alpha(draw: Draw) -> None:
    rng = np.random.default_rng(17)
    spec = DataDriftSpec(alpha=0.05, min_psi=0.0, min_samples=1)
    checks = 1000
    findings = [feature_drift({"x": draw(rng, 8)}, {"x": draw(rng, 6)}, spec)[0] for _ in range(checks)]
    assert {f.test for f in findings} == {"ks" if draw is _normal else "fisher"}
    assert sum(f.drifted for f in findings) / checks <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / checks)


def _alarm(rng: Rng, spec: DataDriftSpec, sizes: tuple[int, int]) -> bool:
    reference = {name: draw(rng, sizes[0]) for name, draw in UNDRIFTED.items()}
    current = {name: draw(rng, sizes[1]) for name, draw in UNDRIFTED.items()}
    return any(f.drifted for f in feature_drift(reference, current, spec))


def test_the_statistic_is_scipys_power_divergence_over_williams_correction() -> None:
    reference = {"k": FeatureCounts(categories={"a": 300, "b": 200, "c": 100})}
    current = {"k": FeatureCounts(categories={"a": 120, "b": 60, "c": 60})}
    (finding,) = feature_drift(reference, current, DataDriftSpec())
    table = np.array([[300, 200, 100], [120, 60, 60]])
    statistic = stats.chi2_contingency(table, lambda_="cressie-read").statistic
    n = 840
    williams = 1 + (n * (1 / 600 + 1 / 240) - 1) * (n * (1 / 420 + 1 / 260 + 1 / 160) - 1) / (6 * n * 2)
    assert finding.test == "chi-squared"
    assert finding.p_value == pytest.approx(stats.chi2.sf(statistic / williams, 2), rel=1e-9)


def test_holm_matches_the_hand_calculation() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone: 0.02, 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=30))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert all(p <= a <= 1.0 for p, a in zip(p_values, adjusted))
    pairs = sorted(zip(p_values, adjusted))
    assert [a for _, a in pairs] == sorted(a for _, a in pairs)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=500), min_size=len(FEATURE_EDGES) + 1, max_size=len(FEATURE_EDGES) + 1),
    st.dictionaries(st.sampled_from(["a", "b", "null", "true"]), st.integers(min_value=1, max_value=500)),
    st.integers(min_value=1, max_value=4),
)
def test_a_window_shaped_like_its_reference_is_never_drift(bins: list[int], categories: dict[str, int], scale: int) -> None:
    reference = FeatureCounts(bins=bins, categories=categories)
    if reference.total == 0:
        return
    current = FeatureCounts(bins=[b * scale for b in bins], categories={k: v * scale for k, v in categories.items()})
    finding = prediction_drift(reference, current, PredictionDriftSpec(min_psi=0.0, min_samples=1))
    assert finding is not None and not finding.drifted and finding.psi < 1e-9


def test_a_capped_side_hides_unlisted_categories_in_its_overflow() -> None:
    rng = np.random.default_rng(8)
    shares = {f"c{i}": 1 / 80 for i in range(80)}
    reference = {"city": _categorical(rng, 8000, shares)}
    window = _categorical(rng, 4000, shares).categories
    kept = dict(sorted(window.items())[:50])  # the router lists the first 50 it saw, the rest are `__other__`
    current = {"city": FeatureCounts(categories={**kept, OTHER_CATEGORY: sum(window.values()) - sum(kept.values())})}
    (finding,) = feature_drift(reference, current, DataDriftSpec())
    assert not finding.drifted and finding.p_value > 0.01


def test_only_watched_features_with_enough_values_and_a_reference_are_tested() -> None:
    rng = np.random.default_rng(4)
    reference = {"a": _normal(rng, 1000), "b": _normal(rng, 1000), "c": _normal(rng, 1000)}
    current = {"a": _normal(rng, 300), "b": _normal(rng, 100), "d": _normal(rng, 300), "c": _normal(rng, 300)}
    tested = feature_drift(reference, current, DataDriftSpec(min_samples=200, features=["a", "b", "d", "e"]))
    assert [f.feature for f in tested] == ["a"]
    assert {f.feature for f in feature_drift(reference, current, DataDriftSpec(min_samples=200))} == {"a", "c"}


def test_prediction_drift_waits_for_samples_and_names_the_predictions() -> None:
    spec = PredictionDriftSpec(min_samples=200)
    reference = FeatureCounts(categories={"cat": 700, "dog": 300})
    assert prediction_drift(reference, FeatureCounts(categories={"cat": 150}), spec) is None
    assert prediction_drift(FeatureCounts(), FeatureCounts(categories={"cat": 500}), spec) is None
    finding = prediction_drift(reference, FeatureCounts(categories={"cat": 100, "dog": 200}), spec)
    assert finding is not None and finding.feature == PREDICTIONS and finding.drifted
    assert finding.adjusted_p_value == finding.p_value


def test_counts_on_different_bins_are_refused_naming_the_feature() -> None:
    with pytest.raises(IncomparableCounts, match="'x': 3 reference bins, 4 current"):
        feature_drift({"x": FeatureCounts(bins=[1, 2, 3])}, {"x": FeatureCounts(bins=[1, 2, 3, 4])}, DataDriftSpec(min_samples=1))


def test_one_value_everywhere_on_both_sides_is_no_evidence() -> None:
    reference = {"flag": FeatureCounts(categories={"true": 900})}
    (finding,) = feature_drift(reference, {"flag": FeatureCounts(categories={"true": 300})}, DataDriftSpec())
    assert finding.p_value == 1.0 and not finding.drifted
