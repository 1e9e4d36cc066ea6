"""What one decision changed, counted: verdicts judged, candidates promoted or rolled back."""

from __future__ import annotations

from controller.api.status import ModelRolloutStatus, Phase
from controller.kube.telemetry import ControllerMetrics

__all__ = ["record_outcome", "rolled_back", "promoted"]


def rolled_back(before: ModelRolloutStatus, after: ModelRolloutStatus) -> bool:
    """A candidate was turned away: Degraded now, with a newly rejected revision that was the candidate."""
    return (
        after.phase is Phase.DEGRADED
        and after.rejected_revision is not None
        and after.rejected_revision != before.rejected_revision
        and after.rejected_revision == before.candidate_revision
    )


def promoted(before: ModelRolloutStatus, after: ModelRolloutStatus) -> bool:
    return before.candidate_revision is not None and after.stable_revision == before.candidate_revision != before.stable_revision


def record_outcome(metrics: ControllerMetrics, before: ModelRolloutStatus, after: ModelRolloutStatus) -> None:
    seen = {(r.metric, r.scope, r.time) for r in before.evidence}
    for record in after.evidence:
        if (record.metric, record.scope, record.time) not in seen:
            metrics.verdicts.labels(metric=record.metric, verdict=record.verdict.value).inc()
    if rolled_back(before, after):
        metrics.rollbacks.inc()
    if promoted(before, after):
        metrics.promotions.inc()
