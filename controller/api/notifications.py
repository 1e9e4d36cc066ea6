"""Who hears about a rollout's transitions: `spec.notifications`.

A rollout names notification *targets* the operator was given (chart value
`notifications.targets`), never a URL: webhook URLs and tokens are secrets, and they stay in
Secrets the chart mounts into the controller's pod, so the controller needs no permission to
read Secrets and a rollout's author cannot point the controller's traffic anywhere.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from controller.api.base import ApiModel

__all__ = ["NotificationEvent", "Notification", "TARGET_NAME_PATTERN", "MAX_NOTIFICATIONS"]

TARGET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_NOTIFICATIONS = 10


class NotificationEvent(StrEnum):
    """Transitions a target can be told about."""

    STARTED = "started"
    STEP_COMPLETED = "stepCompleted"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolledBack"
    VERDICT = "verdict"
    ANALYSIS_ERROR = "analysisError"
    STALLED = "stalled"
    # spec.monitoring: a DataDrift, PredictionDrift or QualityDegraded episode opened, or ended.
    MONITORING = "monitoring"


class Notification(ApiModel):
    """Send this rollout's transitions to a target the operator configured (its URL stays in a Secret)."""

    target: str = Field(
        pattern=TARGET_NAME_PATTERN,
        max_length=63,
        description="Name of a target in the controller's notifications config (chart value notifications.targets).",
    )
    events: list[NotificationEvent] | None = Field(
        default=None,
        min_length=1,
        max_length=len(NotificationEvent),
        description="Transitions to send; every one when unset.",
    )
