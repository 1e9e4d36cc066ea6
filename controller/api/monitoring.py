"""Watching a model after it ships: `spec.monitoring`, what it finds (`status.monitoring`), and the reference.

While a rollout is Healthy (no candidate running), the controller compares the live traffic of the
stable model over a sliding `window` with a *reference* of the same model:

- a live reference, captured from the model's own traffic over `reference.captureWindow` right
  after it became stable, or
- a baseline from its training data (`modelrollout baseline DATA.csv` summarises it; a ConfigMap in
  a cluster, a file in local mode), named by `reference.baseline`.

Checks every `interval` become three conditions with their evidence in `status.monitoring`:
`DataDrift` (input features), `PredictionDrift` (the model's answers) and `QualityDegraded` (error
rate, latency, accuracy from delayed labels). When one turns true, `retraining` fires once for
that episode.

The reference itself is data, not spec: `ModelReference`, pure counts on the router's fixed bins,
so a reference and a window compare bin by bin, and replicas' counts add up.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.api.base import ApiModel, Duration, HttpAddress

__all__ = [
    "MonitoringCondition",
    "ReferenceSpec",
    "DataDriftSpec",
    "PredictionDriftSpec",
    "QualitySpec",
    "RetrainingWebhook",
    "RetrainingSpec",
    "MonitoringSpec",
    "FeatureCounts",
    "ModelReference",
    "FeatureFinding",
    "MonitoringCheck",
    "ReferenceInfo",
    "RetrainingEpisode",
    "MonitoringStatus",
    "MAX_FINDINGS",
    "MAX_EPISODES",
]

MAX_FINDINGS = 20
MAX_EPISODES = 10


class MonitoringCondition(StrEnum):
    DATA_DRIFT = "DataDrift"
    PREDICTION_DRIFT = "PredictionDrift"
    QUALITY_DEGRADED = "QualityDegraded"


class ReferenceSpec(ApiModel):
    """What live traffic is compared with: a capture of the model's first traffic, or a training-data baseline."""

    capture_window: Duration = Field(
        default=1800.0, description="Live capture: how long after the model became stable its traffic is recorded as the reference."
    )
    min_samples: int = Field(
        default=500, ge=1, description="Sampled requests the live capture needs; it goes on past captureWindow until it has them."
    )
    baseline: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description=(
            "A baseline written by `modelrollout baseline`: a ConfigMap in the rollout's namespace in a cluster, a file path"
            " in local mode. Unset: capture from live traffic."
        ),
    )


class DataDriftSpec(ApiModel):
    """Input drift per feature: a test of "same distribution" per feature, Holm-corrected across features."""

    alpha: float = Field(
        default=0.01, gt=0, lt=0.5, description="Chance that one check flags any undrifted feature (family-wise, across features)."
    )
    min_psi: float = Field(
        default=0.1, ge=0, description="A feature is flagged only when its PSI is at least this, however small the p-value."
    )
    min_samples: int = Field(default=200, ge=1, description="Values a feature needs in the window before it is tested.")
    features: list[str] | None = Field(default=None, min_length=1, description="Watch only these features; every one when unset.")


class PredictionDriftSpec(ApiModel):
    """Drift of the model's answers from the reference's: the same test and floor as for a feature."""

    alpha: float = Field(default=0.01, gt=0, lt=0.5, description="Chance that one check flags undrifted predictions.")
    min_psi: float = Field(default=0.1, ge=0, description="Flag only when the PSI is at least this.")
    min_samples: int = Field(default=200, ge=1, description="Predictions the window needs before it is tested.")


class QualitySpec(ApiModel):
    """Error rate, latency and accuracy from delayed labels over the window; each bound is optional."""

    max_error_rate: float | None = Field(default=None, ge=0, le=1, description="Flag when the error rate is above this beyond chance.")
    max_latency_p99: Duration | None = Field(default=None, description="Flag when the p99 latency over the window is above this.")
    min_accuracy: float | None = Field(default=None, ge=0, le=1, description="Flag when accuracy from labels is below this beyond chance.")
    max_accuracy_drop: float | None = Field(
        default=None, gt=0, le=1, description="Flag when accuracy is this far below the labelled reference's, beyond chance."
    )
    confidence: float = Field(default=0.99, gt=0.5, lt=1, description="How sure a bound must be broken before it is flagged.")
    min_samples: int = Field(default=100, ge=1, description="Requests (labels for accuracy) the window needs before a bound is judged.")


class RetrainingWebhook(ApiModel):
    """POSTed the episode's evidence as JSON; a try with no answer, a 5xx or a 429 is retried with backoff."""

    url: HttpAddress
    timeout: Duration = Field(default=10.0, description="How long one try may take.")
    retries: int = Field(default=5, ge=0, le=20, description="Tries after a failed one before the episode is given up.")
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every try (not for secrets: the spec is readable).")


class RetrainingSpec(ApiModel):
    """What fires when a monitoring condition turns true: once per episode, never blocking the rollout."""

    # Not `on`: YAML 1.1 parsers (PyYAML, and so many tools) read a bare `on:` key as the boolean true.
    conditions: list[MonitoringCondition] = Field(
        default_factory=lambda: list(MonitoringCondition),
        min_length=1,
        description="Conditions that start a retraining; every one by default.",
    )
    webhook: RetrainingWebhook | None = None
    job: dict[str, Any] | None = Field(
        default=None,
        description=(
            "A Job template (the spec of a batch/v1 Job) created once per episode in a cluster; the evidence is in its"
            " MODELROLLOUT_EVIDENCE environment variable and annotation."
        ),
    )

    @model_validator(mode="after")
    def _something(self) -> RetrainingSpec:
        if self.webhook is None and self.job is None:
            raise ValueError("set webhook, job or both: retraining with neither would fire nothing")
        return self


class MonitoringSpec(ApiModel):
    """Watch the stable model while the rollout is Healthy: data drift, prediction drift, quality."""

    interval: Duration = Field(default=60.0, description="How often the window is checked.")
    window: Duration = Field(default=900.0, description="The sliding window of live traffic each check judges.")
    reference: ReferenceSpec = Field(default_factory=ReferenceSpec)
    data_drift: DataDriftSpec | None = Field(default_factory=DataDriftSpec, description="Unset with null to skip input drift.")
    prediction_drift: PredictionDriftSpec | None = Field(default_factory=PredictionDriftSpec)
    quality: QualitySpec | None = None
    retraining: RetrainingSpec | None = None

    @model_validator(mode="after")
    def _window_holds_checks(self) -> MonitoringSpec:
        if self.window < self.interval:
            raise ValueError(f"window {self.window:g}s is shorter than interval {self.interval:g}s: checks would skip traffic")
        return self


class FeatureCounts(ApiModel):
    """One feature (or the predictions) over some traffic: numbers counted on the router's fixed bins, other values by category."""

    bins: list[int] | None = Field(default=None, description="Counts on the router's feature bins, index for index.")
    categories: dict[str, int] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.bins or ()) + sum(self.categories.values())


class ModelReference(ApiModel):
    """What "normal" looks like for one model: counts of its inputs and answers over the reference traffic."""

    source: Literal["live", "baseline"]
    revision: str | None = Field(default=None, description="The revision captured; None for a baseline from training data.")
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    samples: int = Field(ge=0, description="Rows (baseline) or sampled requests (live) behind the feature counts.")
    features: dict[str, FeatureCounts] = Field(default_factory=dict)
    predictions: FeatureCounts | None = None
    labelled: int = Field(default=0, ge=0)
    correct: int = Field(default=0, ge=0)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


class FeatureFinding(ApiModel):
    """One feature's (or the predictions') test against the reference."""

    feature: str
    test: str = Field(description="chi-squared, ks or fisher, chosen by sample size and kind.")
    p_value: float
    adjusted_p_value: float = Field(description="After Holm's correction across the features tested.")
    psi: float
    samples: int
    reference_samples: int
    drifted: bool


class MonitoringCheck(ApiModel):
    """The numbers of the last check: its window and what it read."""

    at: datetime
    window_start: datetime | None
    requests: int = 0
    sampled: int = 0
    features_tested: int = 0
    error_rate: float | None = None
    latency_p99_s: float | None = None
    labelled: int = 0
    accuracy: float | None = None
    prediction_psi: float | None = None
    message: str = ""


class ReferenceInfo(ApiModel):
    """Which reference the checks use (its counts live in a ConfigMap or a file, not in status)."""

    source: Literal["live", "baseline"]
    revision: str | None = None
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    samples: int = 0
    accuracy: float | None = None


class RetrainingEpisode(ApiModel):
    """A monitoring condition's time true; retraining fires once for it, identified by `id`."""

    id: str
    condition: MonitoringCondition
    since: datetime
    ended: datetime | None = None
    fired: bool = False


class MonitoringStatus(ApiModel):
    revision: str = Field(description="The stable revision being watched.")
    since: datetime
    reference: ReferenceInfo | None = None
    capture_started_at: datetime | None = None
    last_check: MonitoringCheck | None = None
    # The input features' tests, lowest adjusted p first; the predictions' own test apart, so a
    # feature of any name can never be mistaken for it.
    findings: list[FeatureFinding] = Field(default_factory=list, max_length=MAX_FINDINGS)
    prediction_finding: FeatureFinding | None = None
    episodes: list[RetrainingEpisode] = Field(default_factory=list, max_length=MAX_EPISODES)
