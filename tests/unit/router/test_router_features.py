"""Input features: read by protocol, counted in bounded sketches that add up across replicas."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from router.features import FEATURE_EDGES, MAX_VALUES, OTHER_CATEGORY, FeatureCounters, features_of
from router.measure import Measurements
from router.stats import merge


def body(document: object) -> bytes:
    return orjson.dumps(document)


def test_kserve_v1_instances_as_lists_and_objects() -> None:
    assert features_of("/v1/models/m:predict", body({"instances": [[1.5, "red"], [2, None]]})) == [
        ("0", 1.5), ("1", "red"), ("0", 2), ("1", None),
    ]  # fmt: skip
    assert features_of("/", body({"instances": [{"age": 41, "plan": "pro", "nested": [1, 2]}]})) == [("age", 41), ("plan", "pro")]


def test_oip_v2_inputs_by_shape() -> None:
    document = {"inputs": [
        {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]},
        {"name": "y", "shape": [2, 2], "datatype": "FP32", "data": [[7, 8], [9, 10]]},
        {"name": "id", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]},
    ]}  # fmt: skip
    found = features_of("/v2/models/m/infer", body(document))
    assert found[:6] == [("x[0]", 1), ("x[1]", 2), ("x[2]", 3), ("x[0]", 4), ("x[1]", 5), ("x[2]", 6)]
    assert found[6:] == [("y[0]", 7), ("y[1]", 8), ("y[0]", 9), ("y[1]", 10), ("id", "a"), ("id", "b")]


def test_bodies_it_cannot_read_give_no_features() -> None:
    assert features_of("/", b"not json") == [] and features_of("/", body([1, 2])) == [] and features_of("/", body({"x": 1})) == []


def test_thousands_of_feature_names_and_categories_stay_within_the_caps() -> None:
    counters = FeatureCounters(max_features=20, max_categories=5)
    for n in range(2_000):
        counters.observe([(f"f{n}", 1.0), ("colour", f"c{n}")])
    assert len(counters.features) == 20 and counters.dropped == 2_000 - 19
    colours = counters.features["colour"].categories
    assert len(colours) == 6 and colours[OTHER_CATEGORY] == 2_000 - 5


def test_numbers_land_on_the_shared_edges_and_replicas_add_up() -> None:
    one, two = Measurements([0.5], 10), Measurements([0.5], 10)
    one.features.observe([("age", 41), ("plan", "pro")])
    two.features.observe([("age", -3), ("country", "fr")])
    merged = merge([m.snapshot(name, datetime(2025, 1, 1, tzinfo=UTC), 1) for name, m in (("a", one), ("b", two))])
    age = merged.features["age"].numeric
    assert age is not None and age.edges == FEATURE_EDGES and age.total == 2
    assert merged.features["plan"].categories == {"pro": 1} and merged.features["country"].categories == {"fr": 1}
    assert merged.features_sampled == 2


def test_at_most_max_values_are_read_from_one_request_whatever_the_instances_hold() -> None:
    long_list = [float(i) for i in range(MAX_VALUES + 500)]
    found = features_of("/", body({"instances": [[1, [2]], long_list]}))
    assert len(found) == MAX_VALUES
    assert found[:2] == [("0", 1), ("0", 0.0)] and found[-1] == (str(MAX_VALUES - 2), float(MAX_VALUES - 2))
    wide = {f"k{i}": i for i in range(MAX_VALUES)}
    found = features_of("/", body({"instances": [{"a": "x"}, wide, [1]]}))
    assert len(found) == MAX_VALUES and found[0] == ("a", "x") and found[-1] == (f"k{MAX_VALUES - 2}", MAX_VALUES - 2)
