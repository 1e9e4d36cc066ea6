"""Accuracy joins: bounded memory, each label judged once, shadow predictions judged too."""

from __future__ import annotations

from router.feedback import MAX_KEPT_PREDICTIONS, PredictionLog, Recorded, judge_label


def test_a_recorded_prediction_is_taken_once() -> None:
    log = PredictionLog(capacity=10)
    log.record("r1", "candidate", [1])
    taken = log.take("r1")
    assert taken == Recorded("candidate", [1])
    assert log.take("r1") is None


def test_the_oldest_entries_are_forgotten_beyond_capacity() -> None:
    log = PredictionLog(capacity=3)
    for n in range(5):
        log.record(f"r{n}", "stable", [n])
    assert len(log) == 3
    assert log.take("r0") is None and log.take("r1") is None
    assert log.take("r4") == Recorded("stable", [4])
    log.resize(1)
    assert len(log) == 1


def test_a_reused_request_id_keeps_the_latest_prediction() -> None:
    log = PredictionLog(capacity=2)
    log.record("r", "stable", [1])
    log.record("other", "stable", [2])
    log.record("r", "candidate", [3])
    log.record("third", "stable", [4])
    assert log.take("r") == Recorded("candidate", [3])
    assert log.take("other") is None


def test_huge_answers_and_zero_capacity_keep_nothing() -> None:
    log = PredictionLog(capacity=5)
    log.record("big", "stable", [0] * (MAX_KEPT_PREDICTIONS + 1))
    assert log.take("big") is None
    off = PredictionLog(capacity=0)
    off.record("r", "stable", [1])
    assert len(off) == 0


def test_the_shadow_prediction_joins_its_request() -> None:
    log = PredictionLog(capacity=5)
    log.record("r", "stable", ["cat"])
    log.record_shadow("r", ["dog"])
    log.record_shadow("unknown", ["dog"])
    recorded = log.take("r")
    assert recorded is not None
    assert judge_label(recorded, "cat", 0.0) == [("stable", True), ("shadow", False)]
    assert judge_label(recorded, ["dog"], 0.0) == [("stable", False), ("shadow", True)]


def test_numeric_labels_are_judged_within_the_tolerance() -> None:
    recorded = Recorded("candidate", [0.5, 1.0])
    assert judge_label(recorded, [0.50001, 1.0], 1e-3) == [("candidate", True)]
    assert judge_label(recorded, [0.6, 1.0], 1e-3) == [("candidate", False)]
    assert judge_label(recorded, 0.5, 1e-3) == [("candidate", False)]
