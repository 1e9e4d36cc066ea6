"""What a metric source hands the judges: per-variant samples over a window, or an error.

Sources (adapters) build these; judges (pure) read them. A provider failure is data here —
`MetricObservation.error` — never an exception thrown through the core.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.api.status import Verdict

__all__ = ["BinCounts", "VariantSample", "MetricObservation", "AnalysisResult"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BinCounts(_Frozen):
    """Counts in bins: `edges` has one more entry than `counts` (numeric predictions, latency)."""

    edges: list[float]
    counts: list[int]

    @model_validator(mode="after")
    def _shape(self) -> BinCounts:
        if len(self.edges) != len(self.counts) + 1:
            raise ValueError(f"{len(self.edges)} edges for {len(self.counts)} counts; expected counts + 1")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:])):
            raise ValueError("histogram edges must increase strictly")
        if any(c < 0 for c in self.counts):
            raise ValueError("histogram counts must be >= 0")
        return self

    @property
    def total(self) -> int:
        return sum(self.counts)


class VariantSample(_Frozen):
    """One variant's numbers over the window.

    `count` is how many observations stand behind `value`. For proportions (error rate,
    agreement, accuracy) `successes` counts the events out of `count`; for distributions
    `histogram` or `categories` carry the shape a statistical test needs.

    `counted` is False when the source reports no count (a Prometheus query without
    samplesQuery, a webhook reply without samples): `count` is then 1 for the value read, or 0
    for none, and no minimum of samples can be held against it.
    """

    count: int = Field(ge=0)
    counted: bool = True
    value: float | None = None
    successes: int | None = Field(default=None, ge=0)
    histogram: BinCounts | None = None
    categories: dict[str, int] | None = None


class MetricObservation(_Frozen):
    metric: str
    candidate: VariantSample | None = None
    stable: VariantSample | None = None
    # Set by a source that could not measure (provider down, bad reply): judged as Error.
    error: str | None = None
    # A webhook may answer with a verdict instead of a value.
    verdict: Verdict | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None


class AnalysisResult(_Frozen):
    """A judge's verdict with the numbers behind it."""

    verdict: Verdict
    reason: str
    candidate_value: float | None = None
    stable_value: float | None = None
    candidate_samples: int = 0
    stable_samples: int = 0
    statistic: str | None = None
    statistic_value: float | None = None
    threshold: float | None = None
