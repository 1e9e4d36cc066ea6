"""Training data counted as the router counts live traffic: the same bins, category keys and caps.

Features (router.features): numbers (not booleans) on router.stats.FEATURE_EDGES at index
`bisect_left(edges, value)`; other values by their category key. Predictions (router.measure):
floats on the router's prediction bins, anything else (integers too: class ids) by key. A key
is the router's (router.compare.label_key): None is "null", booleans "true" and "false", anything
else its text. Categories past the cap are counted under OTHER_CATEGORY, as the router does; here
the most frequent are kept, where the router keeps the first it sees.

Labels judge predictions as the router does (router.labels) for one prediction a row: within a
tolerance, exactly, or by a threshold on a score; argmax needs a score vector, which one column
cannot hold.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeGuard

from controller.api.monitoring import FeatureCounts
from controller.cli.baseline.tables import Scalar
from router.config import LabelMatch

__all__ = ["OTHER_CATEGORY", "category_key", "count_features", "count_predictions", "is_correct", "label_class"]

# The router's (router.features, router.measure) and the drift tests' name for the overflow; kept
# here rather than imported from controller.analysis, whose scipy would double the command's start.
OTHER_CATEGORY = "__other__"
_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


def category_key(value: Scalar) -> str:
    """The category the router counts a non-numeric value under (router.compare.label_key)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def count_features(values: Iterable[Scalar], edges: Sequence[float], max_categories: int) -> FeatureCounts:
    """One feature's values as router.features counts them: every number binned, the rest by key."""
    return _count(values, edges, max_categories, _is_number)


def count_predictions(values: Iterable[Scalar], edges: Sequence[float], max_labels: int) -> FeatureCounts:
    """Predictions as router.measure counts them: floats (scores) binned, anything else a label by key."""
    return _count(values, edges, max_labels, _is_float)


def _is_number(value: Scalar) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_float(value: Scalar) -> TypeGuard[float]:
    return type(value) is float


def _count(values: Iterable[Scalar], edges: Sequence[float], cap: int, binned: Callable[[Scalar], TypeGuard[float]]) -> FeatureCounts:
    bins = [0] * (len(edges) + 1)
    categories: Counter[str] = Counter()
    numbers = 0
    for value in values:
        if binned(value):
            bins[bisect_left(edges, value)] += 1
            numbers += 1
        else:
            categories[category_key(value)] += 1
    return FeatureCounts(bins=bins if numbers else None, categories=_capped(categories, cap))


def _capped(categories: Counter[str], cap: int) -> dict[str, int]:
    """At most `cap` categories (the most frequent; ties by key) and the rest under OTHER_CATEGORY."""
    ranked = sorted(categories.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:cap])
    rest = sum(count for _key, count in ranked[cap:])
    return {**kept, OTHER_CATEGORY: kept.get(OTHER_CATEGORY, 0) + rest} if rest else kept


def label_class(label: Scalar, match: LabelMatch) -> Scalar:
    """The label as the router compares it (router.labels.truth for one value); ValueError naming a bad one."""
    if match.match == "argmax":
        raise ValueError("argmax judges a vector of scores per row, and a baseline reads one prediction column")
    if match.match != "threshold":
        return label
    if isinstance(label, bool):
        return int(label)
    if isinstance(label, (int, float)) and label in (0, 1):
        return int(label)
    if isinstance(label, str) and label.strip().lower() in _TRUE | _FALSE:
        return 1 if label.strip().lower() in _TRUE else 0
    raise ValueError(f"label {label!r} is not a class under threshold; expected 0 or 1 (or false/true)")


def is_correct(prediction: Scalar, expected: Scalar, match: LabelMatch) -> bool:
    """Whether one prediction got its label (as `label_class` returns it) right, as router.labels.judge decides."""
    if match.match == "threshold":
        if isinstance(prediction, bool):
            return int(prediction) == expected
        return isinstance(prediction, (int, float)) and (1 if prediction >= match.threshold else 0) == expected
    tolerance = 0.0 if match.match == "exact" else (match.tolerance if match.tolerance is not None else 1e-6)
    gap = _score_gap(prediction, expected)
    if gap is not None:
        return gap <= tolerance
    return prediction == expected and isinstance(prediction, bool) == isinstance(expected, bool)


def _score_gap(a: Scalar, b: Scalar) -> float | None:
    """|a - b| when both are numbers and one is a float (router.compare); None for labels, booleans and two integers."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    return abs(a - b) if isinstance(a, float) or isinstance(b, float) else None
