"""Finding predictions in responses by protocol, and judging agreement within a tolerance."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.compare import Extractor, compare, flatten, label_key
from router.config import Predictions


def extract(protocol: str, path: str, body: Any, json_path: str | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Extractor(Predictions(protocol=protocol, json_path=json_path)).extract(path, raw)


def test_auto_reads_kserve_v1_predictions() -> None:
    assert extract("auto", "/v1/models/m:predict", {"predictions": [0.25, 0.75]}) == [0.25, 0.75]
    assert extract("auto", "/v1/models/m:predict", {"predictions": [[0.1, 0.9], [0.8, 0.2]]}) == [0.1, 0.9, 0.8, 0.2]


def test_auto_reads_oip_v2_outputs_on_the_infer_path() -> None:
    body = {"outputs": [{"name": "label", "data": [1, 0]}, {"name": "score", "data": [0.9, 0.2]}]}
    assert extract("auto", "/v2/models/iris/infer", body) == [1, 0, 0.9, 0.2]
    assert extract("auto", "/v2/models/iris/versions/3/infer", body) == [1, 0, 0.9, 0.2]
    assert extract("auto", "/other", body) is None


def test_a_forced_protocol_ignores_the_path() -> None:
    assert extract("oip-v2", "/anything", {"outputs": [{"data": [3]}]}) == [3]
    assert extract("kserve-v1", "/v2/models/m/infer", {"predictions": ["cat"]}) == ["cat"]
    assert extract("kserve-v1", "/x", {"outputs": [{"data": [3]}]}) is None


def test_a_json_path_finds_nested_values() -> None:
    body = {"result": {"items": [{"score": 0.3, "label": "a"}, {"score": 0.6, "label": "b"}]}}
    assert extract("jsonpath", "/", body, "result.items[*].score") == [0.3, 0.6]
    assert extract("jsonpath", "/", body, "$.result.items[1].label") == ["b"]
    assert extract("jsonpath", "/", body, "result.missing") is None


@pytest.mark.parametrize("body", [b"", b"plain text", b"<html></html>", b'{"predictions": 5', b'{"no": "predictions"}', b"[1, 2]"])
def test_bodies_without_predictions_are_not_analysed(body: bytes) -> None:
    assert extract("auto", "/v1/models/m:predict", body) is None


def test_objects_flatten_in_key_order() -> None:
    assert flatten([{"score": 0.9, "label": "cat"}, [1, [2]]]) == ["cat", 0.9, 1, 2]


def test_labels_are_counted_under_stable_names() -> None:
    assert [label_key(v) for v in ("cat", 3, True, False, None)] == ["cat", "3", "true", "false", "null"]


def test_scores_agree_within_the_tolerance_and_report_the_widest_gap() -> None:
    close = compare([0.5, 0.25], [0.5000001, 0.25], 1e-6)
    assert close.agreed and close.max_abs_diff == pytest.approx(1e-7)
    far = compare([0.5, 0.25], [0.5, 0.35], 1e-6)
    assert not far.agreed and far.max_abs_diff == pytest.approx(0.1)


def test_labels_must_be_equal() -> None:
    assert compare(["cat", 1], ["cat", 1], 0.5).agreed
    assert not compare(["cat"], ["dog"], 0.5).agreed
    assert not compare([1], [True], 0.5).agreed
    assert not compare(["1"], [1], 0.5).agreed
    assert compare([1], [1.0], 0.0).agreed


def test_different_lengths_never_agree() -> None:
    outcome = compare([0.1], [0.1, 0.2], 1.0)
    assert not outcome.agreed and outcome.max_abs_diff is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20), st.floats(0, 10))
def test_agreement_is_symmetric_and_reflexive(values: list[float], tolerance: float) -> None:
    shifted = [v + tolerance / 2 for v in values]
    assert compare(values, values, 0.0).agreed
    assert compare(values, shifted, tolerance) == compare(shifted, values, tolerance)
