"""The drift-after-promotion demo's judge: when it may stop, and what it calls not as expected."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controller.analysis.drift_tests import PREDICTIONS
from controller.api.monitoring import MonitoringCondition, MonitoringStatus, ReferenceInfo, RetrainingEpisode
from controller.api.resource import ModelRollout
from controller.api.status import Condition, ConditionStatus
from controller.errors import SpecError
from controller.local.inputs import read_rollout
from controller.local.monitoring_demo import (
    DEMO_DRIFT,
    ReceivedCall,
    expected_fired,
    payload_lines,
    problems,
    reference_captured,
    with_retraining_url,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DATA, QUALITY, PREDICTION = MonitoringCondition.DATA_DRIFT, MonitoringCondition.QUALITY_DEGRADED, MonitoringCondition.PREDICTION_DRIFT


@pytest.fixture
def rollout() -> ModelRollout:
    return read_rollout(EXAMPLES / "monitored.yaml")


def _watched(rollout: ModelRollout, fired: dict[MonitoringCondition, bool], true: set[MonitoringCondition]) -> ModelRollout:
    episodes = [RetrainingEpisode(id=f"ep-{kind.value}", condition=kind, since=NOW, fired=f) for kind, f in fired.items()]
    monitoring = MonitoringStatus(
        revision="r1", since=NOW, reference=ReferenceInfo(source="live", revision="r1", samples=600), episodes=episodes
    )
    conditions = [
        Condition(type=kind.value, status=ConditionStatus.TRUE if kind in true else ConditionStatus.FALSE, reason="Checked",
                  last_transition_time=NOW)
        for kind in MonitoringCondition
    ]  # fmt: skip
    status = rollout.status.model_copy(update={"monitoring": monitoring, "conditions": conditions})
    return rollout.model_copy(update={"status": status})


def _call(kind: MonitoringCondition, features: dict[str, bool] | None = None, key: str | None = None) -> ReceivedCall:
    findings = [{"feature": name, "drifted": drifted, "psi": 1.0} for name, drifted in (features or {}).items()]
    evidence = {"message": "m", "findings": findings}
    body: dict[str, Any] = {"condition": kind.value, "rollout": "demo", "revision": "r1", "evidence": evidence}
    return ReceivedCall(idempotencyKey=key or f"ep-{kind.value}", body=body)


def _drift_call() -> ReceivedCall:
    return _call(DATA, {"3": True, "8": True})


def test_the_example_points_its_webhook_at_the_demos_receiver(rollout: ModelRollout) -> None:
    redirected = with_retraining_url(rollout, "http://127.0.0.1:4321/retrain")

    monitoring = redirected.spec.monitoring
    assert monitoring is not None and monitoring.retraining is not None and monitoring.retraining.webhook is not None
    assert monitoring.retraining.webhook.url == "http://127.0.0.1:4321/retrain"
    assert monitoring.retraining.conditions == [DATA, QUALITY]
    assert redirected.spec.strategy == rollout.spec.strategy


def test_a_rollout_without_a_retraining_webhook_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="retraining.webhook"):
        with_retraining_url(read_rollout(EXAMPLES / "canary.yaml"), "http://127.0.0.1:1/x")


def test_may_stop_only_once_every_expected_episode_fired_and_its_post_arrived(rollout: ModelRollout) -> None:
    both = _watched(rollout, {DATA: True, QUALITY: True}, {DATA, QUALITY})

    assert not reference_captured(rollout) and reference_captured(both)
    assert not expected_fired(_watched(rollout, {DATA: True}, {DATA}), [_drift_call()])
    assert not expected_fired(both, [_drift_call()])
    assert expected_fired(both, [_drift_call(), _call(QUALITY)])


def test_no_problem_when_each_planted_condition_fired_once_naming_exactly_the_drifted_features(rollout: ModelRollout) -> None:
    watched = _watched(rollout, {DATA: True, PREDICTION: False, QUALITY: True}, {DATA, PREDICTION, QUALITY})

    assert problems(watched, [_drift_call(), _call(QUALITY)], DEMO_DRIFT.features) == []
    # The predictions' test, drifted too, may ride along in DataDrift's evidence: it is not an input feature.
    with_predictions = _call(DATA, {"3": True, "8": True, PREDICTIONS: True})
    assert problems(watched, [with_predictions, _call(QUALITY)], DEMO_DRIFT.features) == []


@pytest.mark.parametrize(
    "calls, true, expected",
    [
        ([_drift_call(), _drift_call(), _call(QUALITY)], {DATA, QUALITY}, "DataDrift episode was POSTed 2 times"),
        ([_drift_call()], {DATA, QUALITY}, "QualityDegraded episode was POSTed 0 times"),
        ([_call(DATA, {"3": True, "8": True, "0": True}), _call(QUALITY)], {DATA, QUALITY}, "named features ['0', '3', '8']"),
        ([_call(DATA, {"3": True, "8": False}), _call(QUALITY)], {DATA, QUALITY}, "named features ['3'], expected exactly ['3', '8']"),
        ([_call(DATA, {"3": True, PREDICTIONS: True}), _call(QUALITY)], {DATA, QUALITY}, "named features ['3'], expected"),
        ([_drift_call(), _call(QUALITY), _call(QUALITY, key="other")], {DATA, QUALITY}, "POSTs for no fired episode: ['other']"),
        ([_drift_call(), _call(QUALITY)], {DATA}, "QualityDegraded is False, expected True"),
    ],
)
def test_names_what_went_wrong(rollout: ModelRollout, calls: list[ReceivedCall], true: set[MonitoringCondition], expected: str) -> None:
    found = problems(_watched(rollout, {DATA: True, QUALITY: True}, true), calls, DEMO_DRIFT.features)

    assert len(found) == 1 and expected in found[0], found


def test_an_unfired_episode_and_no_reference_are_problems(rollout: ModelRollout) -> None:
    assert problems(rollout, [], DEMO_DRIFT.features) == ["no reference was captured, so nothing was judged"]
    found = problems(_watched(rollout, {DATA: True, QUALITY: False}, {DATA, QUALITY}), [_drift_call()], DEMO_DRIFT.features)
    assert found == ["no QualityDegraded episode fired retraining"]


WINDOW = {"start": "2024-05-01T12:00:05+00:00", "end": "2024-05-01T12:01:10+00:00"}


def test_payload_lines_summarise_each_post() -> None:
    evidence = {"message": "2 of 30 drifted", "check": {"requests": 400, "accuracy": 0.8}, "window": WINDOW}
    call = _drift_call().model_copy(update={"body": {**_drift_call().body, "evidence": evidence}})

    lines = payload_lines([call])

    assert lines[:3] == ["POST DataDrift for demo revision r1", "  Idempotency-Key: ep-DataDrift", "  2 of 30 drifted"]
    assert lines[3] == "  window 12:00:05–12:01:10: 400 requests, None labelled, accuracy 0.800"
