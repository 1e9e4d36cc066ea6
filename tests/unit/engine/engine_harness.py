"""Simulated time for the engine: due_measurements -> scripted observations -> decide, on a fake clock.

`Simulation` plays driver, cluster and routers at once. Revisions scaled above 0 are ready
at the next observation unless listed in `unready`; routers apply each split by the next
observation unless `routers_stuck`. Each measurement is answered by `verdicts`, a function
of the request, with an observation the real judge turns into that verdict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.resource import ModelRollout, revision_of
from controller.api.status import Verdict
from controller.engine.actions import Action, EmitEvent, EnsureRevision, ScaleRevision
from controller.engine.decide import Decision, decide, due_measurements
from controller.engine.inputs import ManualAction, ManualRequest, MeasurementRequest, Observations, ScopedObservation

__all__ = [
    "ERROR_RATE",
    "T0",
    "Simulation",
    "Tick",
    "always",
    "analysis_step",
    "canary",
    "events",
    "observation",
    "of_kind",
    "promoted",
    "rollout_of",
    "started",
    "template",
]

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

# Judged with absolute bounds: 1% passes, 50% fails, 3 samples are too few, an error is an error.
ERROR_RATE: dict[str, Any] = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05, "minSamples": 50}

Verdicts = Callable[[MeasurementRequest], Verdict]


def canary(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"canary": {"steps": list(steps), **fields}}


def analysis_step(count: int = 1, interval: str = "30s", **metric: Any) -> dict[str, Any]:
    """An analysis step on the error-rate metric, with `metric` overriding its fields (failureLimit, ...)."""
    return {"analysis": {"interval": interval, "count": count, "metrics": [{**ERROR_RATE, **metric}]}}


def template(version: str) -> dict[str, Any]:
    container = {
        "name": "model",
        "image": "registry.example/iris:1",
        "env": [{"name": "MODEL_VERSION", "value": version}],
    }
    return {"metadata": {"labels": {"app": "iris"}}, "spec": {"containers": [container]}}


def rollout_of(
    strategy: dict[str, Any], *, version: str = "1", replicas: int = 3, analysis: dict[str, Any] | None = None
) -> ModelRollout:
    spec: dict[str, Any] = {"replicas": replicas, "template": template(version), "strategy": strategy}
    if analysis is not None:
        spec["analysis"] = analysis
    return ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "ml", "generation": 1}, "spec": spec})


def observation(request: MeasurementRequest, verdict: Verdict, now: datetime) -> MetricObservation:
    """An observation of `request`'s metric that the real judge finds `verdict` (for a `max` bound of 5%)."""
    name = request.metric.name
    window = {"window_start": request.window_start, "window_end": now}
    if verdict is Verdict.ERROR:
        return MetricObservation(metric=name, error="connection refused", **window)
    count, value = {Verdict.PASSED: (1000, 0.01), Verdict.FAILED: (1000, 0.5), Verdict.INCONCLUSIVE: (3, 0.01)}[verdict]
    sample = VariantSample(count=count, value=value)
    return MetricObservation(metric=name, candidate=sample, stable=VariantSample(count=count, value=0.01), **window)


def always(verdict: Verdict) -> Verdicts:
    return lambda request: verdict


@dataclass(frozen=True)
class Tick:
    now: datetime
    before: ModelRollout
    wanted: list[MeasurementRequest]
    observations: Observations
    decision: Decision


@dataclass
class Simulation:
    rollout: ModelRollout
    now: datetime = T0
    verdicts: Verdicts = field(default=always(Verdict.PASSED))
    unready: set[str] = field(default_factory=set)
    routers_stuck: bool = False
    # Round-trip the stored status through JSON whenever the step changes, as a restarted controller reads it.
    restart_at_step_boundaries: bool = False
    replicas: dict[str, int] = field(default_factory=dict)
    ticks: list[Tick] = field(default_factory=list)
    _requests: int = 0

    def tick(self, seconds: float = 10.0, request: ManualAction | ManualRequest | None = None) -> Decision:
        """One reconcile at the current time, then the clock moves on by `seconds`."""
        wanted = due_measurements(self.rollout, self.now)
        observations = Observations(
            measurements=[ScopedObservation(scope=r.scope, observation=self._observe(r)) for r in wanted],
            ready_revisions=frozenset(r for r, n in self.replicas.items() if n > 0 and r not in self.unready),
            traffic_applied=not self.routers_stuck,
            request=self._request(request),
        )
        decision = decide(self.rollout, observations, self.now)
        self.ticks.append(Tick(self.now, self.rollout, wanted, observations, decision))
        self._carry_out(decision.actions)
        self._store(decision)
        self.now += timedelta(seconds=seconds)
        return decision

    def run(self, until: Callable[[ModelRollout], bool], seconds: float = 10.0, limit: int = 500) -> ModelRollout:
        for _ in range(limit):
            if until(self.rollout):
                return self.rollout
            self.tick(seconds)
        raise AssertionError(f"no end after {limit} ticks: {self.rollout.status.reason}: {self.rollout.status.message}")

    def apply(self, version: str) -> None:
        """The user applies a new template (a Git commit synced, or kubectl apply)."""
        spec = self.rollout.spec.model_copy(update={"template": template(version)})
        metadata = {**self.rollout.metadata, "generation": self.rollout.generation + 1}
        self.rollout = self.rollout.model_copy(update={"spec": spec, "metadata": metadata})

    def revision(self, version: str) -> str:
        return revision_of(template(version))

    @property
    def actions(self) -> list[Action]:
        return [a for t in self.ticks for a in t.decision.actions]

    def _observe(self, request: MeasurementRequest) -> MetricObservation:
        return observation(request, self.verdicts(request), self.now)

    def _request(self, action: ManualAction | ManualRequest | None) -> ManualRequest | None:
        if action is None or isinstance(action, ManualRequest):
            return action
        self._requests += 1
        return ManualRequest(id=f"req-{self._requests}", action=action, at=self.now)

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, (EnsureRevision, ScaleRevision)):
                self.replicas[action.revision] = action.replicas

    def _store(self, decision: Decision) -> None:
        before = self.rollout.status.current_step
        self.rollout = self.rollout.model_copy(update={"status": decision.status})
        if self.restart_at_step_boundaries and decision.status.current_step != before:
            self.rollout = ModelRollout.model_validate(json.loads(json.dumps(self.rollout.to_wire())))


def events(actions: list[Action], reason: str | None = None) -> list[EmitEvent]:
    return [a for a in actions if isinstance(a, EmitEvent) and (reason is None or a.reason == reason)]


def of_kind(actions: list[Action], kind: type[Action]) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def started(version: str = "1", **options: Any) -> Simulation:
    """A simulation whose stable runs `version` and whose template moves to "2"; nothing decided yet for it."""
    strategy = options.pop("strategy")
    sim = Simulation(rollout_of(strategy, version=version, analysis=options.pop("analysis", None)), **options)
    sim.tick()
    sim.apply("2")
    return sim


def promoted(rollout: ModelRollout) -> bool:
    """The template's revision is stable and nothing runs any more."""
    status = rollout.status
    return status.stable_revision == revision_of(rollout.spec.template) and status.candidate_revision is None
