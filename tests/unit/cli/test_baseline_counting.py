"""The baseline's counting rules are the router's: bins, category keys, the overflow, and how labels judge predictions."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis import drift_tests
from controller.cli.baseline.counting import OTHER_CATEGORY, category_key, count_features, count_predictions, is_correct, label_class
from router.compare import label_key
from router.config import DEFAULT_PREDICTION_BINS, LabelMatch
from router.features import OTHER_CATEGORY as ROUTER_OTHER_CATEGORY
from router.features import FeatureCounters
from router.labels import judge, truth
from router.measure import OTHER_LABEL, VariantCounters
from router.stats import FEATURE_EDGES

# Edges themselves and their neighbours, where the bisect rule decides; and values far outside them.
numbers = st.one_of(
    st.sampled_from([*FEATURE_EDGES, *DEFAULT_PREDICTION_BINS]),
    st.floats(min_value=-1e8, max_value=1e8, allow_nan=False),
    st.integers(min_value=-(10**9), max_value=10**9),
)
scalars = st.one_of(numbers, st.booleans(), st.none(), st.text(max_size=4), st.sampled_from(["null", "true", "1", "1.0"]))
matches = st.one_of(
    st.builds(LabelMatch, match=st.just("tolerance"), tolerance=st.sampled_from([0.0, 1e-6, 0.1])),
    st.builds(LabelMatch, match=st.just("exact")),
    st.builds(LabelMatch, match=st.just("threshold"), threshold=st.sampled_from([0.0, 0.5, 1.0])),
)


def test_the_overflow_category_is_named_as_the_router_names_it() -> None:
    assert OTHER_CATEGORY == ROUTER_OTHER_CATEGORY == OTHER_LABEL == drift_tests.OTHER_CATEGORY


@settings(max_examples=300, deadline=None)
@given(scalars)
def test_category_keys_are_the_routers(value: Any) -> None:
    assert category_key(value) == label_key(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(scalars, max_size=60))
def test_features_are_counted_as_the_routers_feature_counters_count_them(values: list[Any]) -> None:
    counters = FeatureCounters(max_features=10, max_categories=1000)
    counters.observe([("x", value) for value in values])
    ours = count_features(values, FEATURE_EDGES, max_categories=1000)
    routers = counters.features.get("x")
    assert (ours.bins, ours.categories) == ((routers.bins, routers.categories) if routers else (None, {}))


@settings(max_examples=200, deadline=None)
@given(st.lists(scalars, max_size=60))
def test_predictions_are_counted_as_the_routers_measurements_count_them(values: list[Any]) -> None:
    counters = VariantCounters(DEFAULT_PREDICTION_BINS, max_labels=1000)
    counters.predicted(values)
    ours = count_predictions(values, DEFAULT_PREDICTION_BINS, max_labels=1000)
    assert (ours.bins or [0] * (len(DEFAULT_PREDICTION_BINS) + 1)) == counters.bins
    assert ours.categories == counters.labels


@settings(max_examples=500, deadline=None)
@given(scalars, scalars, matches)
def test_a_label_judges_one_prediction_as_the_router_does(prediction: Any, label: Any, match: LabelMatch) -> None:
    try:
        expected = truth(label, match)
    except ValueError:
        routers_refuse = True
    else:
        routers_refuse = False
    try:
        ours = label_class(label, match)
    except ValueError:
        assert routers_refuse
        return
    assert not routers_refuse and [ours] == expected
    assert is_correct(prediction, ours, match) == judge([prediction], expected, match)


def test_past_the_cap_the_most_frequent_categories_are_kept() -> None:
    counts = count_features(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"], FEATURE_EDGES, max_categories=2)
    assert counts.categories == {"a": 5, "b": 3, OTHER_CATEGORY: 3}
