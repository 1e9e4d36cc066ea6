"""kstatus conditions (`Ready`, `Reconciling`, `Stalled`), and the `TrafficApplied` and
`PredictionsReadable` detail conditions.

A condition's `lastTransitionTime` changes only when its status does, so tools that wait on
conditions (Flux, Argo CD, `kubectl wait`) see real transitions. `TrafficApplied` doubles as
the engine's record of when the split in force was confirmed by every router: analysis
windows and step timers start there.
"""

from __future__ import annotations

from datetime import datetime

from controller.api.status import Condition, ConditionStatus, ModelRolloutStatus, Phase
from controller.engine.reasons import Reason

__all__ = [
    "PREDICTIONS_READABLE",
    "READY",
    "RECONCILING",
    "STALLED",
    "TRAFFIC_APPLIED",
    "find_condition",
    "set_condition",
    "with_kstatus",
]

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
TRAFFIC_APPLIED = "TrafficApplied"
PREDICTIONS_READABLE = "PredictionsReadable"


def find_condition(conditions: list[Condition], kind: str) -> Condition | None:
    return next((condition for condition in conditions if condition.type == kind), None)


def set_condition(
    conditions: list[Condition], kind: str, true: bool | ConditionStatus, reason: str, message: str, now: datetime, generation: int
) -> list[Condition]:
    """`conditions` with `kind` set (`true` may name Unknown too); its transition time moves only if its status changes."""
    if isinstance(true, ConditionStatus):
        status = true
    else:
        status = ConditionStatus.TRUE if true else ConditionStatus.FALSE
    existing = find_condition(conditions, kind)
    since = existing.last_transition_time if existing is not None and existing.status == status else now
    condition = Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    if existing is None:
        return [*conditions, condition]
    return [condition if c.type == kind else c for c in conditions]


def with_kstatus(status: ModelRolloutStatus, generation: int, now: datetime) -> ModelRolloutStatus:
    """`status` with Ready, Reconciling and Stalled brought in line with its phase and reason."""
    invalid = status.reason == Reason.INVALID_SPEC
    failed = status.phase is Phase.DEGRADED or invalid
    outage = status.provider_outage
    reconciling = status.phase in (Phase.PROGRESSING, Phase.PAUSED) and not invalid
    ready = status.phase is Phase.HEALTHY and status.candidate_revision is None and not invalid
    reason = status.reason or "Pending"
    conditions = list(status.conditions)
    for kind, true in ((READY, ready), (RECONCILING, reconciling)):
        conditions = set_condition(conditions, kind, true, reason, status.message, now, generation)
    if outage is not None and not failed:
        # Held on a provider that does not answer: Stalled says so with the provider's message.
        stalled = (True, Reason.PROVIDER_UNAVAILABLE.value, outage.message)
    else:
        stalled = (failed, reason, status.message)
    conditions = set_condition(conditions, STALLED, *stalled, now, generation)
    return status.model_copy(update={"conditions": conditions})
