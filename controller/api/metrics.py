"""Metric specs: where a number comes from and how it is judged.

A metric has exactly one source (the router's built-in measurements, Prometheus, or a webhook)
and exactly one judgement (absolute bounds, a maximum increase over stable, or a statistical
comparison of candidate against stable at a confidence level).

Every combination accepted here can be judged: a statistical comparison needs events out of a
count or a distribution per variant, which only the router measures (not its request rate), so
`compare` on Prometheus or a webhook is refused; `minSamples` needs a count from the source, so
it is refused on a Prometheus query without `samplesQuery`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from controller.api.base import ApiModel, Duration, FieldIssue, HttpAddress
from controller.api.credentials import BasicAuth, SecretKeyRef

__all__ = [
    "RouterMetric",
    "RouterSource",
    "PrometheusSource",
    "WebhookSource",
    "MaxIncrease",
    "Comparison",
    "ProviderErrorPolicy",
    "MetricSpec",
    "AnalysisSpec",
    "AnalysisStep",
    "METRIC_NAME_PATTERN",
    "MAX_METRICS",
    "DEFAULT_MIN_SAMPLES",
    "UNCOMPARABLE_METRICS",
]

METRIC_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Bounded so the API server can cost the CEL rules on each metric (an unbounded list fails its estimate).
MAX_METRICS = 20
# Samples per variant a measurement needs when minSamples is unset and the source counts them.
DEFAULT_MIN_SAMPLES = 50


class RouterMetric(StrEnum):
    """Measurements the router takes per variant with no Prometheus needed."""

    REQUEST_RATE = "requestRate"
    ERROR_RATE = "errorRate"
    LATENCY_P50 = "latencyP50"
    LATENCY_P90 = "latencyP90"
    LATENCY_P99 = "latencyP99"
    LATENCY = "latency"  # the whole distribution: compared with Mann-Whitney U
    SHADOW_AGREEMENT = "shadowAgreement"
    SHADOW_ERROR_RATE = "shadowErrorRate"
    SHADOW_LATENCY_P99 = "shadowLatencyP99"
    PREDICTION_DRIFT = "predictionDrift"
    ACCURACY = "accuracy"


# A rate is one number per variant: no events out of a count, no distribution, so no test can compare it.
UNCOMPARABLE_METRICS = frozenset({RouterMetric.REQUEST_RATE})


class RouterSource(ApiModel):
    """A measurement the router takes itself, per variant; no Prometheus needed."""

    metric: RouterMetric


class PrometheusSource(ApiModel):
    """PromQL evaluated as an instant query.

    `{{variant}}` is replaced by stable/candidate (a query without it measures the candidate
    only) and `{{window}}` by the analysis window as a PromQL duration, e.g. `rate(x[{{window}}])`.
    """

    address: HttpAddress
    query: str = Field(min_length=1)
    # Without it nothing counts the observations behind the value, so minSamples cannot be set.
    samples_query: str | None = Field(
        default=None,
        min_length=1,
        description="How many observations stand behind the value (same placeholders); minSamples needs it.",
    )
    timeout: Duration = 10.0
    bearer_token: SecretKeyRef | None = Field(default=None, description="Sent as Authorization: Bearer; not with basicAuth.")
    basic_auth: BasicAuth | None = None
    ca: SecretKeyRef | None = Field(default=None, description="PEM CA bundle an https address's certificate must chain to.")
    insecure_skip_verify: bool = Field(
        default=False, description="Accept any certificate of an https address: encrypted, but not authenticated."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> PrometheusSource:
        if self.bearer_token is not None and self.basic_auth is not None:
            raise FieldIssue("set one of bearerToken or basicAuth, not both: a request carries one Authorization header", at=("basicAuth",))
        return self


class WebhookSource(ApiModel):
    """POSTs the rollout context; the reply is a verdict, or a value the metric's judgement reads.

    A verdict is `{"verdict": "Passed|Failed|Inconclusive"}`. A value is `{"value": x}` (the candidate's) or `{"candidate": x, "stable": y}` (maxIncrease needs
    both), with `"samples": n` when something counts them (minSamples needs it).
    """  # noqa: E501 - the CRD's description keeps these line breaks

    url: HttpAddress
    timeout: Duration = 10.0
    headers: dict[str, str] = Field(default_factory=dict)


class MaxIncrease(ApiModel):
    """How much worse than stable the candidate may be: absolute units or percent of stable."""

    absolute: float | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> MaxIncrease:
        if (self.absolute is None) == (self.percent is None):
            raise ValueError("set exactly one of absolute or percent")
        return self


class Comparison(ApiModel):
    """A statistical test of candidate against stable; fails only on significant harm.

    Router metrics only, not requestRate: a test needs events out of a count or a distribution.
    """

    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    worse_if: Literal["higher", "lower"] = "higher"
    # A candidate worse by less than this (in the metric's units) is not a failure even if significant.
    tolerance: float = Field(default=0.0, ge=0)


class ProviderErrorPolicy(StrEnum):
    HOLD = "hold"
    FAIL = "fail"


class MetricSpec(ApiModel):
    """One metric: exactly one source and one judgement (a verdict-returning webhook needs none)."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=METRIC_NAME_PATTERN)]
    # Sources: exactly one.
    router: RouterSource | None = None
    prometheus: PrometheusSource | None = None
    webhook: WebhookSource | None = None
    # Judgements: bounds (min and/or max), maxIncrease, or compare: exactly one kind.
    min_: float | None = Field(
        default=None,
        alias="min",
        description=(
            "The candidate's value must be at least this. A rate the router counts is decided once its counts show it"
            " on one side beyond chance, and measured again until then."
        ),
    )
    max_: float | None = Field(
        default=None,
        alias="max",
        description=(
            "The candidate's value must be at most this. A rate the router counts, or a PSI, is decided once its counts"
            " show it on one side beyond chance, and measured again until then."
        ),
    )
    max_increase: MaxIncrease | None = None
    compare: Comparison | None = None
    # None: 50 wherever the source counts samples; a source that counts none is not checked.
    min_samples: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Fewer samples per variant make a measurement Inconclusive; 50 when unset. Checked against the"
            " count the source reports: router metrics, prometheus.samplesQuery or a webhook's samples."
        ),
    )
    failure_limit: int = Field(default=0, ge=0, description="Failed measurements tolerated; one more rolls back.")
    # None: an Inconclusive result holds the step indefinitely (never a failure).
    inconclusive_limit: int | None = Field(
        default=None, ge=0, description="Consecutive Inconclusive measurements tolerated before pausing for a person; unset never pauses."
    )
    # Counted like inconclusiveLimit: the streak restarts on any answer. Argo Rollouts' consecutiveErrorLimit
    # defaults to 4 too, but there the analysis fails; here the rollout holds and says so.
    error_limit: int = Field(
        default=4,
        ge=0,
        description=(
            "Consecutive provider errors tolerated; one more marks the rollout Stalled (still held, not rolled back) "
            "until the provider answers."
        ),
    )
    on_provider_error: ProviderErrorPolicy = Field(
        default=ProviderErrorPolicy.HOLD, description="hold: an unreachable provider holds the step; fail: it counts as a failure."
    )
    dry_run: bool = Field(
        default=False,
        description="Measure and record verdicts (evidence, tallies) without acting on them: never rolls back, holds or stalls.",
    )

    @model_validator(mode="after")
    def _one_source_one_judgement(self) -> MetricSpec:
        sources = [n for n in ("router", "prometheus", "webhook") if getattr(self, n) is not None]
        if len(sources) != 1:
            raise ValueError(f"set exactly one source of router, prometheus, webhook (got {sources or 'none'})")
        kinds = [
            name
            for name, present in (
                ("min/max", self.min_ is not None or self.max_ is not None),
                ("maxIncrease", self.max_increase is not None),
                ("compare", self.compare is not None),
            )
            if present
        ]
        verdict_webhook = self.webhook is not None and not kinds
        if len(kinds) != 1 and not verdict_webhook:
            raise ValueError(f"set exactly one judgement of min/max, maxIncrease, compare (got {kinds or 'none'})")
        if self.min_ is not None and self.max_ is not None and self.min_ > self.max_:
            raise ValueError(f"min {self.min_} is greater than max {self.max_}")
        self._check_compare(sources[0])
        self._check_min_samples()
        return self

    def _check_compare(self, source: str) -> None:
        """A statistical test needs events out of a count or a distribution per variant: only the router gives them."""
        if self.compare is None:
            return
        if source != "router":
            answers = (
                "a prometheus query gives one value" if source == "prometheus" else "a webhook answers a value or a verdict"
            )
            raise FieldIssue(
                f"needs a router source: {answers} per variant, and a statistical test needs events out of a"
                " count or a distribution per variant; use maxIncrease or min/max instead",
                at=("compare",),
            )
        if self.router is not None and self.router.metric in UNCOMPARABLE_METRICS:
            raise FieldIssue(
                f"cannot test {self.router.metric.value}: it is one number per variant, with no events or"
                " distribution to compare; use maxIncrease or min/max instead",
                at=("compare",),
            )

    def _check_min_samples(self) -> None:
        """minSamples must have a count to hold against; a Prometheus query without samplesQuery has none."""
        if self.min_samples is not None and self.prometheus is not None and self.prometheus.samples_query is None:
            raise FieldIssue(
                f"is {self.min_samples}, but nothing counts the samples: add prometheus.samplesQuery,"
                " which returns how many observations stand behind the value, or remove minSamples",
                at=("minSamples",),
            )

    @property
    def source_kind(self) -> str:
        return "router" if self.router else "prometheus" if self.prometheus else "webhook"

    @property
    def sample_minimum(self) -> int:
        """Samples each variant needs, wherever the source counts them: minSamples, or 50 when unset."""
        return DEFAULT_MIN_SAMPLES if self.min_samples is None else self.min_samples


class AnalysisSpec(ApiModel):
    """Background analysis: every metric is measured each `interval` for the whole rollout."""

    interval: Duration = 30.0
    metrics: list[MetricSpec] = Field(min_length=1, max_length=MAX_METRICS)


class AnalysisStep(ApiModel):
    """Analysis at one point: `count` measurements `interval` apart must pass to go on.

    With no `metrics`, the step runs the background analysis metrics.
    """

    metrics: list[MetricSpec] | None = Field(default=None, min_length=1, max_length=MAX_METRICS)
    interval: Duration = 30.0
    count: int = Field(default=1, ge=1)
