"""A protocol setting that reads nothing: counted, sampled by shape (never by value), merged."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from router.compare import SAMPLE_CHARS, Extractor, shape_of
from router.config import Predictions
from router.measure import MOSTLY_UNREADABLE_MIN, Measurements
from router.stats import delta, merge

START = datetime(2026, 1, 1, tzinfo=UTC)
OIP_ANSWER = orjson.dumps({"model_name": "m", "outputs": [{"name": "score", "datatype": "FP64", "shape": [1], "data": [0.93]}]})


def test_kserve_v1_reading_an_oip_answer_keeps_its_keys_and_no_value() -> None:
    extractor = Extractor(Predictions(protocol="kserve-v1"))
    assert extractor.extract("/v2/models/m/infer", OIP_ANSWER) is None
    assert extractor.unreadable_sample == '{"model_name": ..., "outputs": ...}'
    assert "0.93" not in extractor.unreadable_sample and "score" not in extractor.unreadable_sample


def test_a_read_answer_leaves_the_sample_alone_and_other_failures_are_named() -> None:
    extractor = Extractor(Predictions(protocol="auto"))
    assert extractor.extract("/v2/models/m/infer", OIP_ANSWER) == [0.93]
    assert extractor.unreadable_sample is None
    extractor.extract("/x", b"<html>oops</html>")
    assert extractor.unreadable_sample == "not JSON"
    extractor.extract("/x", b"")
    assert extractor.unreadable_sample == "an empty body"
    extractor.extract("/x", b"[1, 2]")
    assert extractor.unreadable_sample == "a list of 2"
    extractor.extract("/x", b'"a secret"')
    assert extractor.unreadable_sample == "a JSON string"
    extractor.extract("/x", orjson.dumps({f"k{n}": "secret" for n in range(1000)}))
    sample = extractor.unreadable_sample
    assert sample is not None and sample.startswith('{"k0": ..., "k1": ...') and "secret" not in sample and len(sample) <= SAMPLE_CHARS


def test_a_sample_is_truncated() -> None:
    shape = shape_of({f"key_number_{n}": n for n in range(50)})
    assert len(shape) <= SAMPLE_CHARS and shape.startswith('{"key_number_0": ...') and shape.endswith("...}")


def test_readability_counts_since_the_config_in_force() -> None:
    measurements = Measurements((0.5,), max_labels=10)
    stable = measurements.variants["stable"]
    for _ in range(MOSTLY_UNREADABLE_MIN):
        stable.predicted(None)
    stable.predicted([0.4])
    assert stable.readability().mostly_unreadable
    assert stable.readability().answers == MOSTLY_UNREADABLE_MIN + 1
    measurements.rebin((0.5,), max_labels=10)  # a new config (the protocol corrected) starts afresh
    assert stable.readability().answers == 0 and not stable.readability().mostly_unreadable
    for _ in range(MOSTLY_UNREADABLE_MIN):
        stable.predicted([0.4])
    assert not stable.readability().mostly_unreadable
    assert measurements.snapshot("a", START, 1).stable.analysed == MOSTLY_UNREADABLE_MIN + 1


def test_too_few_answers_are_no_verdict() -> None:
    measurements = Measurements((0.5,), max_labels=10)
    for _ in range(MOSTLY_UNREADABLE_MIN - 1):
        measurements.variants["candidate"].predicted(None)
    assert not measurements.variants["candidate"].readability().mostly_unreadable


def test_the_sample_survives_merge_and_delta() -> None:
    one = Measurements((0.5,), max_labels=10)
    one.variants["stable"].predicted(None)
    before = one.snapshot("a", START, 1)
    one.variants["stable"].predicted(None)
    after = one.snapshot("a", START, 1, '{"outputs": ...}')
    window = delta(before, after)
    assert window.unreadable_sample == '{"outputs": ...}' and window.stable.not_analysed == 1
    other = Measurements((0.5,), max_labels=10).snapshot("b", START, 1)
    assert merge([other, window]).unreadable_sample == '{"outputs": ...}'
    assert merge([other, other]).unreadable_sample is None
