"""What the driver observed before asking the engine to decide."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from controller.analysis.observations import MetricObservation
from controller.api.gates import WebhookGate
from controller.api.metrics import MetricSpec
from controller.api.monitoring import FeatureCounts, ModelReference

__all__ = [
    "ManualAction", "ManualRequest", "MeasurementRequest", "PredictionsReading", "ScopedObservation", "GateRequest", "GateAnswer",
    "MonitoringRequest", "MonitoringWindow", "MonitoringObservation", "Observations",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ManualAction(StrEnum):
    PROMOTE = "promote"
    PROMOTE_FULL = "promote-full"
    ABORT = "abort"
    RETRY = "retry"
    PAUSE = "pause"
    RESUME = "resume"
    UNDO = "undo"


class ManualRequest(_Frozen):
    """A person's action, carried in an annotation so no GitOps-owned spec field is touched.

    `id` makes it idempotent: the engine handles each id once (status.lastRequestId).
    """

    id: str = Field(min_length=1)
    action: ManualAction
    at: datetime | None = None


class MeasurementRequest(_Frozen):
    """The engine wants `metric` measured for `scope` over [window_start, now]."""

    scope: str
    metric: MetricSpec
    window_start: datetime | None


class ScopedObservation(_Frozen):
    scope: str
    observation: MetricObservation


class PredictionsReading(_Frozen):
    """How the routers read one variant's answers between two polls (the variant most of whose
    answers they could not read, else the one with most answers): what the protocol setting finds.

    `sample` is the shape of an answer they could not read: top-level keys, never values.
    """

    variant: str
    answers: int = Field(ge=0)
    unreadable: int = Field(ge=0)
    sample: str | None = None


class GateRequest(_Frozen):
    """The engine wants `gate` asked about the rollout as it stands."""

    gate: WebhookGate


class GateAnswer(_Frozen):
    """What a gate said: yes (a 2xx), no (any other status), or nothing (`error`, after the retries)."""

    gate: str
    yes: bool
    detail: str = ""
    error: str | None = None


class MonitoringRequest(_Frozen):
    """The engine wants the stable model's traffic over [window_start, now], and its reference.

    `baseline` names the baseline to load (spec.monitoring.reference.baseline); without it, the
    reference is the one last saved for `revision`, if any.
    """

    revision: str
    window_start: datetime
    baseline: str | None = None


class MonitoringWindow(_Frozen):
    """The stable model's traffic over a window, summed over every router: what the checks judge."""

    start: datetime | None
    end: datetime
    requests: int = Field(default=0, ge=0)
    errors: int = Field(default=0, ge=0)
    # Latency counts over `latency_edges` in seconds, le-style with an overflow count (len(edges) + 1).
    latency_edges: tuple[float, ...] = ()
    latency_counts: tuple[int, ...] = ()
    labelled: int = Field(default=0, ge=0)
    correct: int = Field(default=0, ge=0)
    # Requests whose input features were counted, and the features.
    sampled: int = Field(default=0, ge=0)
    features: dict[str, FeatureCounts] = Field(default_factory=dict)
    predictions: FeatureCounts | None = None


class MonitoringObservation(_Frozen):
    """What was read for a `MonitoringRequest`: the window, the reference (None: none stored), or why not."""

    window: MonitoringWindow | None = None
    reference: ModelReference | None = None
    error: str | None = None


class Observations(_Frozen):
    measurements: list[ScopedObservation] = Field(default_factory=list)
    # Revisions whose pods are all ready (the engine waits on the candidate before sending traffic).
    ready_revisions: frozenset[str] = frozenset()
    # True once every router has applied the last SetTraffic: step timers start only then.
    traffic_applied: bool = True
    request: ManualRequest | None = None
    # None: nothing read since the last poll (no traffic, or no router polled), which says nothing.
    predictions: PredictionsReading | None = None
    # Answers of the gates `due_gates` asked for.
    gates: list[GateAnswer] = Field(default_factory=list)
    # The answer to `due_monitoring`'s request; None when none was asked.
    monitoring: MonitoringObservation | None = None
