"""The only loop: observe, decide, execute.

One `reconcile` call measures what the engine asks for, reads readiness and router state,
calls the pure engine, carries out its actions in order and returns the rollout with its new
status. Actions run before the caller stores that status: if an action fails the error
propagates, the old status stays, and the next reconcile decides again from it — every action
is idempotent, so repeating one is harmless.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from controller.analysis.observations import MetricObservation
from controller.api.resource import ModelRollout
from controller.engine.actions import Action, EmitEvent, EnsureRevision, ScaleRevision, SetTraffic
from controller.engine.decide import Decision, decide, due_measurements
from controller.engine.inputs import ManualRequest, MeasurementRequest, Observations, ScopedObservation
from controller.runtime.logs import log_event
from controller.runtime.ports import Clock, Cluster, EventSink, MetricProvider, PredictionsSource, TrafficControl

__all__ = ["Ports", "Reconciled", "reconcile", "measure_all"]


@dataclass(frozen=True)
class Ports:
    cluster: Cluster
    traffic: TrafficControl
    metrics: MetricProvider
    events: EventSink
    clock: Clock
    # Whether the routers read the answers under the protocol setting; None where nothing says.
    predictions: PredictionsSource | None = None


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


async def reconcile(ports: Ports, rollout: ModelRollout, request: ManualRequest | None = None) -> Reconciled:
    now = ports.clock.now()
    measurements = await measure_all(ports, rollout, due_measurements(rollout, now), now)
    observations = Observations(
        measurements=measurements,
        ready_revisions=await ports.cluster.ready_revisions(rollout),
        traffic_applied=await ports.traffic.traffic_applied(rollout),
        request=request,
        predictions=await ports.predictions.observe(rollout) if ports.predictions is not None else None,
    )
    decision = decide(rollout, observations, now)
    for action in decision.actions:
        await _execute(ports, rollout, action)
    return Reconciled(rollout.model_copy(update={"status": decision.status}), decision, observations)
