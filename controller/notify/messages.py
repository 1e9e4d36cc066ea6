"""What a notification says: which Event reasons are which transitions, and the bodies sent.

A notification names the rollout, its revisions, the step and the engine's message, which
carries the reason with its numbers (the failed metric's value and threshold, the split).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from controller.api.monitoring import MonitoringCondition
from controller.api.notifications import NotificationEvent
from controller.api.resource import ModelRollout, revision_of
from controller.engine.actions import EmitEvent
from controller.engine.monitoring import MonitoringReason
from controller.engine.reasons import Reason
from controller.notify.config import TargetFormat

__all__ = ["EVENTS_BY_REASON", "Notification", "notification_for", "body_for"]

# ANALYSIS_FAILED is left out on purpose: the RolledBack Event that follows it carries the same why.
EVENTS_BY_REASON: dict[str, NotificationEvent] = {
    Reason.ROLLOUT_STARTED: NotificationEvent.STARTED,
    Reason.CANDIDATE_REPLACED: NotificationEvent.STARTED,
    Reason.STEP_COMPLETED: NotificationEvent.STEP_COMPLETED,
    Reason.PAUSED: NotificationEvent.PAUSED,
    Reason.ANALYSIS_INCONCLUSIVE: NotificationEvent.PAUSED,
    Reason.PROMOTED: NotificationEvent.PROMOTED,
    Reason.ROLLED_BACK: NotificationEvent.ROLLED_BACK,
    Reason.UNDONE: NotificationEvent.ROLLED_BACK,
    Reason.SHADOW_VERDICT_PASSED: NotificationEvent.VERDICT,
    Reason.SHADOW_VERDICT_FAILED: NotificationEvent.VERDICT,
    Reason.PREDICTIONS_UNREADABLE: NotificationEvent.ANALYSIS_ERROR,
    Reason.INVALID_SPEC: NotificationEvent.ANALYSIS_ERROR,
    Reason.PROVIDER_UNAVAILABLE: NotificationEvent.STALLED,
    # Monitoring's episodes (controller/engine/monitoring.py): opened under the condition's name, and ended.
    MonitoringCondition.DATA_DRIFT: NotificationEvent.MONITORING,
    MonitoringCondition.PREDICTION_DRIFT: NotificationEvent.MONITORING,
    MonitoringCondition.QUALITY_DEGRADED: NotificationEvent.MONITORING,
    MonitoringReason.ENDED: NotificationEvent.MONITORING,
}

_EMOJI = {"Normal": ":large_blue_circle:", "Warning": ":warning:"}


class Notification(BaseModel):
    """One transition of one rollout, as the generic JSON webhook receives it."""

    model_config = ConfigDict(frozen=True)

    event: NotificationEvent
    reason: str
    type: str
    message: str
    namespace: str
    rollout: str
    generation: int
    phase: str | None
    stable_revision: str | None
    candidate_revision: str | None
    step: int | None
    step_count: int
    time: datetime


def notification_for(rollout: ModelRollout, event: EmitEvent, now: datetime) -> Notification | None:
    """The notification for an Event, or None when the reason is no transition people are told about."""
    kind = EVENTS_BY_REASON.get(event.reason)
    if kind is None:
        return None
    status = rollout.status
    # The status is the one the engine decided from: a rollout that starts now has no candidate in it yet.
    template_revision = revision_of(rollout.spec.template)
    candidate = status.candidate_revision or (template_revision if template_revision != status.stable_revision else None)
    return Notification(
        event=kind,
        reason=event.reason,
        type=event.type,
        message=event.message,
        namespace=rollout.namespace,
        rollout=rollout.name,
        generation=rollout.generation,
        phase=status.phase.value if status.phase else None,
        stable_revision=status.stable_revision,
        candidate_revision=candidate,
        step=status.current_step,
        step_count=status.step_count,
        time=now,
    )


def body_for(notification: Notification, format: TargetFormat) -> dict[str, Any]:
    if format is TargetFormat.SLACK:
        return _slack(notification)
    return notification.model_dump(mode="json", by_alias=False)


def _slack(n: Notification) -> dict[str, Any]:
    # Counted from 0, as the engine's messages count steps.
    step = f"step {n.step} of 0..{n.step_count - 1}" if n.step is not None and n.step_count else "no step"
    revisions = f"stable `{n.stable_revision or '-'}`, candidate `{n.candidate_revision or '-'}`"
    title = f"{_EMOJI.get(n.type, '')} *{n.namespace}/{n.rollout}* {n.reason}".strip()
    text = f"{title}: {n.message}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{title}\n{n.message}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{revisions} · {step} · {n.time.isoformat()}"}]},
        ],
    }
