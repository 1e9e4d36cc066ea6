"""In-memory ports for driving `controller.runtime.driver` in simulated time.

Each records what it was asked, in one shared journal, so a test reads the order the driver
carried things out in. `fail` names a verb that raises instead, to see what the driver does
when an adapter fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent, EnsureRevision, KeepRevisions, ScaleRevision, SetTraffic
from controller.engine.inputs import MeasurementRequest
from controller.runtime.driver import Ports

__all__ = ["T0", "Journal", "PortFailure", "SimulatedClock", "journal_ports"]

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class PortFailure(RuntimeError):
    """What a port told to fail raises."""


@dataclass
class Journal:
    """Every call the driver made, as (verb, rollout's status phase, detail), and the verbs that fail."""

    calls: list[tuple[str, object]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)
    ready: set[str] = field(default_factory=set)
    # What each measurement answers; an exception class makes the provider raise it instead.
    measure: type[Exception] | None = None

    def record(self, verb: str, detail: object) -> None:
        if verb in self.fail:
            raise PortFailure(f"{verb} failed")
        self.calls.append((verb, detail))

    def verbs(self) -> list[str]:
        return [verb for verb, _ in self.calls]


@dataclass
class SimulatedClock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class _Cluster:
    journal: Journal

    async def ensure_revision(self, rollout: ModelRollout, action: EnsureRevision) -> None:
        self.journal.record("ensure_revision", action)
        if action.replicas > 0:
            self.journal.ready.add(action.revision)

    async def scale_revision(self, rollout: ModelRollout, action: ScaleRevision) -> None:
        self.journal.record("scale_revision", action)

    async def ready_revisions(self, rollout: ModelRollout) -> frozenset[str]:
        self.journal.record("ready_revisions", None)
        return frozenset(self.journal.ready)

    async def keep_revisions(self, rollout: ModelRollout, action: KeepRevisions) -> None:
        self.journal.record("keep_revisions", (action, rollout.status.stable_revision))


@dataclass
class _Traffic:
    journal: Journal

    async def set_traffic(self, rollout: ModelRollout, action: SetTraffic) -> None:
        self.journal.record("set_traffic", action)

    async def traffic_applied(self, rollout: ModelRollout) -> bool:
        self.journal.record("traffic_applied", None)
        return True


@dataclass
class _Metrics:
    journal: Journal

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        self.journal.record("measure", request.metric.name)
        if self.journal.measure is not None:
            raise self.journal.measure("the provider broke")
        sample = VariantSample(count=1000, value=0.01)
        window = {"window_start": request.window_start, "window_end": now}
        return MetricObservation(metric=request.metric.name, candidate=sample, stable=sample, **window)


@dataclass
class _Events:
    journal: Journal

    async def emit(self, rollout: ModelRollout, event: EmitEvent) -> None:
        self.journal.record("emit", (event.reason, rollout.name))


def journal_ports(journal: Journal, clock: SimulatedClock) -> Ports:
    return Ports(cluster=_Cluster(journal), traffic=_Traffic(journal), metrics=_Metrics(journal), events=_Events(journal), clock=clock)
