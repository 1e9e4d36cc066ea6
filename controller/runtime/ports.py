"""The ports the driver talks through; adapters (local processes, Kubernetes, fakes) fill them.

Named by role, not technology: a `Cluster` runs revisions, a `TrafficControl` sets the split,
a `MetricProvider` measures, an `EventSink` records transitions, a `Clock` tells the time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from controller.analysis.observations import MetricObservation
from controller.api.resource import ModelRollout
from controller.engine.actions import (
    EmitEvent,
    EnsureRevision,
    KeepRevisions,
    SaveReference,
    ScaleRevision,
    SetTraffic,
    TellGate,
    TriggerRetraining,
)
from controller.engine.inputs import (
    GateAnswer,
    GateRequest,
    MeasurementRequest,
    MonitoringObservation,
    MonitoringRequest,
    PredictionsReading,
)

__all__ = [
    "Cluster", "TrafficControl", "MetricProvider", "EventSink", "Clock", "PredictionsSource", "GateCaller", "MonitoringSource",
    "RetrainingTrigger",
]


class Cluster(Protocol):
    async def ensure_revision(self, rollout: ModelRollout, action: EnsureRevision) -> None: ...

    async def scale_revision(self, rollout: ModelRollout, action: ScaleRevision) -> None: ...

    async def ready_revisions(self, rollout: ModelRollout) -> frozenset[str]: ...

    async def keep_revisions(self, rollout: ModelRollout, action: KeepRevisions) -> None:
        """Put revisions back to what was last asked of them; recreate `action.recreate` if it vanished."""
        ...


class TrafficControl(Protocol):
    async def set_traffic(self, rollout: ModelRollout, action: SetTraffic) -> None:
        """Route as `action` says; writes nothing where the routers' config already routes this way."""
        ...

    async def traffic_applied(self, rollout: ModelRollout) -> bool:
        """True once every router serves the last split written."""
        ...


class MetricProvider(Protocol):
    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        """Never raises for provider trouble: a failure comes back as `MetricObservation.error`."""
        ...


class PredictionsSource(Protocol):
    async def observe(self, rollout: ModelRollout) -> PredictionsReading | None:
        """How the routers read the answers since the last round; None when nothing was answered."""
        ...


class GateCaller(Protocol):
    async def ask(self, rollout: ModelRollout, request: GateRequest) -> GateAnswer:
        """Never raises: no answer after the retries comes back as `GateAnswer.error`."""
        ...

    def tell(self, rollout: ModelRollout, action: TellGate) -> None:
        """Starts telling a post-rollout gate and returns at once: its answer changes nothing."""
        ...


class MonitoringSource(Protocol):
    async def observe(self, rollout: ModelRollout, request: MonitoringRequest, now: datetime) -> MonitoringObservation:
        """The stable model's window and its reference; never raises: trouble comes back as `error`."""
        ...

    async def save_reference(self, rollout: ModelRollout, action: SaveReference) -> None:
        """Store the reference where it survives restarts; raises when it cannot (the reconcile is retried)."""
        ...


class RetrainingTrigger(Protocol):
    def fire(self, rollout: ModelRollout, action: TriggerRetraining) -> None:
        """Starts the retraining in the background (retried there) and returns at once: nothing waits on it."""
        ...


class EventSink(Protocol):
    async def emit(self, rollout: ModelRollout, event: EmitEvent) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...
