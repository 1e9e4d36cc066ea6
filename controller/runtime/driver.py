"""The only loop: observe, decide, execute.

One `reconcile` call measures what the engine asks for, reads readiness and router state,
calls the pure engine, carries out its actions in order, then its upkeep, and returns the
rollout with its new status. Actions run before the caller stores that status: if an action
fails the error propagates, the old status stays, and the next reconcile decides again from it —
every action is idempotent, so repeating one is harmless. A metric provider that raises is the
exception: its error becomes an Error observation, which holds the step instead of the loop.

`record_unreadable` is the same loop for a resource whose spec cannot be read: the engine
decides its status and the events it gets, this carries them out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from controller.analysis.observations import MetricObservation
from controller.api.resource import ModelRollout
from controller.api.status import ModelRolloutStatus
from controller.engine.actions import (
    Action,
    EmitEvent,
    EnsureRevision,
    KeepRevisions,
    KeepTraffic,
    SaveReference,
    ScaleRevision,
    SetTraffic,
    TellGate,
    TriggerRetraining,
)
from controller.engine.decide import Decision, decide, due_measurements, due_monitoring, gates_to_ask
from controller.engine.inputs import (
    ManualRequest,
    MeasurementRequest,
    MonitoringObservation,
    MonitoringRequest,
    Observations,
    ScopedObservation,
)
from controller.engine.unreadable import decide_unreadable
from controller.runtime.logs import log_event
from controller.runtime.ports import (
    Clock,
    Cluster,
    EventSink,
    GateCaller,
    MetricProvider,
    MonitoringSource,
    PredictionsSource,
    RetrainingTrigger,
    TrafficControl,
)

__all__ = ["Ports", "Reconciled", "reconcile", "measure_all", "record_unreadable"]


@dataclass(frozen=True)
class Ports:
    cluster: Cluster
    traffic: TrafficControl
    metrics: MetricProvider
    events: EventSink
    clock: Clock
    # Whether the routers read the answers under the protocol setting; None where nothing says.
    predictions: PredictionsSource | None = None
    # Calls spec.webhooks; None: no gate is ever asked (a rollout with gates then holds at them).
    gates: GateCaller | None = None
    # Reads the stable model's traffic and reference for spec.monitoring; None: nothing is monitored.
    monitoring: MonitoringSource | None = None
    # Fires retraining for a monitoring episode; None: an episode is recorded, with a Warning, and fires nothing.
    retraining: RetrainingTrigger | None = None


@dataclass(frozen=True)
class Reconciled:
    rollout: ModelRollout
    decision: Decision
    observations: Observations


async def measure_all(
    ports: Ports, rollout: ModelRollout, wanted: list[MeasurementRequest], now: datetime
) -> list[ScopedObservation]:
    """Measure concurrently; a provider that raises anyway becomes an Error observation."""

    async def one(request: MeasurementRequest) -> ScopedObservation:
        try:
            observation = await ports.metrics.measure(rollout, request, now)
        except Exception as exc:  # noqa: BLE001 - a provider bug must hold the step, not crash the loop
            observation = MetricObservation(metric=request.metric.name, error=f"{type(exc).__name__}: {exc}")
        return ScopedObservation(scope=request.scope, observation=observation)

    return list(await asyncio.gather(*(one(r) for r in wanted)))


async def observe_monitoring(
    ports: Ports, rollout: ModelRollout, wanted: MonitoringRequest | None, now: datetime
) -> MonitoringObservation | None:
    """The monitoring window asked for; a source that raises anyway becomes an error observation."""
    if wanted is None or ports.monitoring is None:
        return None
    try:
        return await ports.monitoring.observe(rollout, wanted, now)
    except Exception as exc:  # noqa: BLE001 - a source bug must show in status, not crash the loop
        return MonitoringObservation(error=f"{type(exc).__name__}: {exc}")


async def _execute(ports: Ports, rollout: ModelRollout, action: Action) -> None:
    match action:
        case EnsureRevision():
            await ports.cluster.ensure_revision(rollout, action)
        case ScaleRevision():
            await ports.cluster.scale_revision(rollout, action)
        case SetTraffic():
            await ports.traffic.set_traffic(rollout, action)
        case EmitEvent():
            log_event(rollout, action)
            await ports.events.emit(rollout, action)
        case KeepTraffic():
            await ports.traffic.set_traffic(rollout, action.as_set_traffic())
        case KeepRevisions():
            await ports.cluster.keep_revisions(rollout, action)
        case TellGate():
            if ports.gates is not None:
                ports.gates.tell(rollout, action)
        case SaveReference():
            if ports.monitoring is not None:
                await ports.monitoring.save_reference(rollout, action)
        case TriggerRetraining():
            if ports.retraining is not None:
                ports.retraining.fire(rollout, action)


async def reconcile(ports: Ports, rollout: ModelRollout, request: ManualRequest | None = None) -> Reconciled:
    now = ports.clock.now()
    measurements = await measure_all(ports, rollout, due_measurements(rollout, now), now)
    asked = gates_to_ask(rollout, now) if ports.gates is not None else []
    observations = Observations(
        measurements=measurements,
        gates=list(await asyncio.gather(*(ports.gates.ask(rollout, r) for r in asked))) if ports.gates else [],
        ready_revisions=await ports.cluster.ready_revisions(rollout),
        traffic_applied=await ports.traffic.traffic_applied(rollout),
        request=request,
        predictions=await ports.predictions.observe(rollout) if ports.predictions is not None else None,
        monitoring=await observe_monitoring(ports, rollout, due_monitoring(rollout, now), now),
    )
    decision = decide(rollout, observations, now)
    after = rollout.model_copy(update={"status": decision.status})
    for action in decision.actions:
        await _execute(ports, rollout, action)
    # Upkeep keeps the new status in force, so it is carried out against the rollout that has it.
    for action in decision.upkeep:
        await _execute(ports, after, action)
    return Reconciled(after, decision, observations)


async def record_unreadable(ports: Ports, subject: ModelRollout, status: ModelRolloutStatus, generation: int, message: str) -> Decision:
    """Decide and carry out what a spec that cannot be read gets; `subject` names the resource to events."""
    decision = decide_unreadable(status, generation, message, ports.clock.now())
    for action in decision.actions:
        # Only events are decided here, and they go straight to the sink: `subject` has metadata
        # alone, no spec for anything on the way to read.
        if isinstance(action, EmitEvent):
            await ports.events.emit(subject, action)
    return decision
