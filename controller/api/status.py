"""The `ModelRollout` status: all rollout state lives here, so a restarted controller resumes exactly."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from controller.api.base import ApiModel, Percent
from controller.api.monitoring import MonitoringStatus
from controller.api.spec import HeaderRouteStep

__all__ = [
    "Phase",
    "Verdict",
    "ConditionStatus",
    "Condition",
    "TrafficSplit",
    "AnalysisRecord",
    "MetricTally",
    "PauseState",
    "ScaleDown",
    "ProviderOutage",
    "RequestOutcome",
    "ModelRolloutStatus",
    "EVIDENCE_LIMIT",
]

EVIDENCE_LIMIT = 50


class Phase(StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"


class Verdict(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"  # too few samples: hold, never fail on no traffic
    ERROR = "Error"  # provider unreachable: hold by default, never roll back because metrics are down


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    type: str
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = ""
    last_transition_time: datetime
    observed_generation: int | None = None


class TrafficSplit(ApiModel):
    """The split in force: weights always sum to 100; mirror is a percent of all requests."""

    stable: Percent = 100
    candidate: Percent = 0
    mirror: Percent = 0
    header_route: HeaderRouteStep | None = None

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> TrafficSplit:
        if self.stable + self.candidate != 100:
            raise ValueError(f"stable {self.stable} + candidate {self.candidate} must be 100")
        return self

    @property
    def summary(self) -> str:
        """Short form for printer columns and terminals: `90/10 mirror 5%`."""
        text = f"{self.stable}/{self.candidate}"
        return text + (f" mirror {self.mirror}%" if self.mirror else "")

    @classmethod
    def all_stable(cls) -> TrafficSplit:
        return cls()


class AnalysisRecord(ApiModel):
    """One judged measurement, kept in the bounded evidence trail."""

    metric: str
    scope: str  # "background", "step 3", "shadow", "prePromotion", "postPromotion"
    revision: str
    verdict: Verdict
    reason: str
    time: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    candidate_samples: int = 0
    stable_samples: int = 0
    candidate_value: float | None = None
    stable_value: float | None = None
    statistic: str | None = None  # e.g. "mannwhitneyu p=0.003", "psi"
    statistic_value: float | None = None
    threshold: float | None = None


class MetricTally(ApiModel):
    """Verdict counts for one metric in one scope, as failureLimit/inconclusiveLimit need them."""

    metric: str
    scope: str
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_inconclusive: int = 0
    consecutive_errors: int = 0
    last_measured_at: datetime | None = None


class PauseState(ApiModel):
    reason: Literal["step", "manual", "inconclusive", "preview"]
    since: datetime
    message: str = ""


class ScaleDown(ApiModel):
    """An old revision kept warm for an instant rollback until `at`."""

    revision: str
    at: datetime


class ProviderOutage(ApiModel):
    """A metric whose provider failed more than `errorLimit` times in a row: the rollout holds and is Stalled."""

    metric: str
    scope: str
    since: datetime
    errors: int = Field(ge=1, description="Consecutive provider errors so far.")
    message: str = ""


class RequestOutcome(ApiModel):
    """What the controller did with the last manual request, so whoever sent it can read the answer by its id."""

    id: str
    action: str
    handled: bool = Field(description="True when acted on; false when refused, with the reason in message.")
    message: str = ""


class ModelRolloutStatus(ApiModel):
    observed_generation: int = 0
    phase: Phase | None = None
    reason: str | None = None
    message: str = ""
    stable_revision: str | None = None
    candidate_revision: str | None = None
    previous_stable_revision: str | None = None
    rejected_revision: str | None = None
    # Index into the expanded step list; None when no rollout is running.
    current_step: int | None = None
    step_count: int = 0
    step_started_at: datetime | None = None
    # Measurements taken so far by the current analysis step.
    step_measurements: int = 0
    traffic: TrafficSplit = Field(default_factory=TrafficSplit)
    # TrafficSplit.summary, kept in status for the `Traffic` printer column.
    traffic_summary: str = ""
    pause: PauseState | None = None
    manual_pause: PauseState | None = None
    promote_full: bool = False
    scale_down: ScaleDown | None = None
    background_measured_at: datetime | None = None
    shadow_verdict: Verdict | None = None
    last_request_id: str | None = None
    last_request: RequestOutcome | None = None
    tallies: list[MetricTally] = Field(default_factory=list)
    evidence: list[AnalysisRecord] = Field(default_factory=list, max_length=EVIDENCE_LIMIT)
    conditions: list[Condition] = Field(default_factory=list)
    provider_outage: ProviderOutage | None = None
    # Pods asked of the running candidate; None when none runs.
    candidate_replicas: int | None = None
    # The scale subresource's status, observed from the revisions' Deployments: every model pod of the
    # rollout, the ready ones, and the label selector that finds them (what an HPA averages over).
    replicas: int = Field(default=0, ge=0, description="Model pods of every revision (the scale subresource's status).")
    ready_replicas: int = Field(default=0, ge=0, description="Ready model pods of every revision.")
    selector: str = Field(default="", description="Label selector of every model pod of the rollout, for an HPA.")
    # What monitoring of the stable model found; None when spec.monitoring is unset or nothing was checked yet.
    monitoring: MonitoringStatus | None = None
