"""How a verdict is packaged: the numbers behind it and one sentence a person can read."""

from __future__ import annotations

from controller.analysis.judges.samples import sample_count
from controller.analysis.observations import AnalysisResult, MetricObservation, VariantSample
from controller.api.metrics import Comparison, MetricSpec, RouterMetric
from controller.api.status import Verdict

__all__ = ["DEFAULT_CONFIDENCE", "RATE_METRICS", "is_rate", "result", "show", "show_delta", "show_p", "significance_level"]

# The confidence of a bound on a counted rate or on PSI, which have no field for one, for the rollout as a
# whole (a comparison's `confidence` defaults to it too): every look at every tested metric together.
DEFAULT_CONFIDENCE = 0.95

# Router metrics that are shares of requests: shown as percentages.
RATE_METRICS = frozenset(
    {RouterMetric.ERROR_RATE, RouterMetric.SHADOW_ERROR_RATE, RouterMetric.SHADOW_AGREEMENT, RouterMetric.ACCURACY}
)


def is_rate(metric: MetricSpec, sample: VariantSample | None = None) -> bool:
    """Whether the metric's values are shares (0..1) a person reads as percentages."""
    if sample is not None and sample.value is None and sample.successes is not None:
        return True
    return metric.router is not None and metric.router.metric in RATE_METRICS


def significance_level(comparison: Comparison | None, tests: int = 1) -> float:
    """One test's share of 1 - confidence when the rollout runs `tests` of them (Bonferroni).

    Rounded so 0.95 gives 0.05 and not 0.050000000000000044. Without a comparison (a bound on a
    counted proportion) the confidence is DEFAULT_CONFIDENCE.
    """
    confidence = DEFAULT_CONFIDENCE if comparison is None else comparison.confidence
    return round((1 - confidence) / max(tests, 1), 12)


def show(value: float | None, rate: bool) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.3g}%" if rate else f"{value:.4g}"


def show_delta(delta: float, rate: bool, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{delta * 100:{sign}.3g} percentage points" if rate else f"{delta:{sign}.4g}"


def show_p(p_value: float) -> str:
    return f"{p_value:.2g}"


def result(
    verdict: Verdict,
    reason: str,
    observation: MetricObservation,
    *,
    candidate_value: float | None = None,
    stable_value: float | None = None,
    statistic: str | None = None,
    statistic_value: float | None = None,
    threshold: float | None = None,
) -> AnalysisResult:
    """An AnalysisResult carrying both variants' sample counts from `observation`."""
    return AnalysisResult(
        verdict=verdict,
        reason=reason,
        candidate_value=candidate_value,
        stable_value=stable_value,
        candidate_samples=sample_count(observation.candidate),
        stable_samples=sample_count(observation.stable),
        statistic=statistic,
        statistic_value=statistic_value,
        threshold=threshold,
    )
