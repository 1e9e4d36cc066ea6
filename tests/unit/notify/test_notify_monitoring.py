"""Monitoring's episodes reach notification targets as the `monitoring` event; its routine events do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.api.notifications import NotificationEvent
from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent
from controller.notify.messages import notification_for

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _rollout() -> ModelRollout:
    spec = {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    return ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "ml"}, "spec": spec})


@pytest.mark.parametrize("reason", ["DataDrift", "PredictionDrift", "QualityDegraded", "EpisodeEnded"])
def test_an_episode_opening_or_ending_is_a_monitoring_notification(reason: str) -> None:
    event = EmitEvent(type="Warning", reason=reason, message="revision abc: 1 of 30 drifted: age (PSI 0.420, ks p=1e-09)")
    notification = notification_for(_rollout(), event, NOW)
    assert notification is not None and notification.event is NotificationEvent.MONITORING
    assert notification.message == event.message


@pytest.mark.parametrize("reason", ["MonitoringStarted", "ReferenceCaptured", "RetrainingTriggered"])
def test_routine_monitoring_events_notify_nobody(reason: str) -> None:
    assert notification_for(_rollout(), EmitEvent(type="Normal", reason=reason, message="..."), NOW) is None
