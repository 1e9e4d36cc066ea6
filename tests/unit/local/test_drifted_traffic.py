"""Drifted demo traffic: the named features move, the others and the path do not, a share of labels flips, on a switch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from controller.local.drifted_traffic import DriftSwitch, InputDrift, drift_request
from controller.local.loadgen import TrafficRequest, dataset_requests


def _request(row: list[float], label: int | bool | str | None = 1) -> TrafficRequest:
    return TrafficRequest(path="/v1/models/demo:predict", body={"instances": [row], "extra": "kept"}, label=label)


def test_scales_and_shifts_only_the_named_positions() -> None:
    drift = InputDrift(scale={0: 2.0, 2: 0.5}, shift={2: 10.0})

    moved = drift_request(_request([1.5, 3.0, 4.0, 7.0]), drift, np.random.default_rng(0))

    assert moved.body == {"instances": [[3.0, 3.0, 12.0, 7.0]], "extra": "kept"}
    assert moved.path == "/v1/models/demo:predict" and moved.label == 1
    assert drift.features == ["0", "2"]


def test_leaves_what_it_cannot_move_as_it_is() -> None:
    drift = InputDrift(scale={1: 3.0, 9: 3.0})
    odd = TrafficRequest(path="/p", body={"instances": [{"a": 1}, [1.0, "x"], [True, 2.0]]})

    moved = drift_request(odd, drift, np.random.default_rng(0))

    # Objects, strings and booleans stay; a position past the row's end is skipped; only numbers move.
    assert moved.body["instances"] == [{"a": 1}, [1.0, "x"], [True, 6.0]]
    assert drift_request(TrafficRequest(path="/p", body={"inputs": []}), drift, np.random.default_rng(0)).body == {"inputs": []}


def test_flips_about_the_asked_share_of_binary_labels_keeping_their_type() -> None:
    drift = InputDrift(flip_labels=0.25)
    draw = np.random.default_rng(4)
    labels = [drift_request(_request([1.0], label=i % 2), drift, draw).label for i in range(4000)]
    flipped = sum(label != i % 2 for i, label in enumerate(labels))

    assert 0.22 < flipped / 4000 < 0.28
    assert {type(label) for label in labels} == {int}
    assert {drift_request(_request([1.0], label=True), InputDrift(flip_labels=1.0), draw).label} == {False}
    # A label that is no 0/1 class is left alone, as is a missing one.
    assert drift_request(_request([1.0], label="cat"), InputDrift(flip_labels=1.0), draw).label == "cat"
    assert drift_request(_request([1.0], label=None), InputDrift(flip_labels=1.0), draw).label is None


def test_rejects_a_share_outside_0_1_and_negative_positions() -> None:
    with pytest.raises(ValidationError, match="flip_labels"):
        InputDrift(flip_labels=1.5)
    with pytest.raises(ValidationError, match="positions"):
        InputDrift(scale={-1: 2.0})


def test_switch_passes_requests_through_until_started_then_drifts_every_one() -> None:
    drift = InputDrift(scale={3: 2.0})
    plain = list(itertools.islice(dataset_requests(seed=7), 20))
    switch = DriftSwitch(iter(plain), drift)

    before = list(itertools.islice(switch, 10))
    assert before == plain[:10] and (switch.drifting, switch.drifted) == (False, 0)
    switch.start()
    after = list(itertools.islice(switch, 10))

    assert (switch.drifting, switch.drifted) == (True, 10)
    for sent, original in zip(after, plain[10:], strict=True):
        row, source = sent.body["instances"][0], original.body["instances"][0]
        assert row[3] == pytest.approx(2 * source[3]) and row[:3] + row[4:] == source[:3] + source[4:]
