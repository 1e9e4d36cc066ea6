"""Judging one measurement: a metric spec and what its source observed, in; a verdict, out.

Checks run in a fixed order, so a result always names the first thing that decided it:

1. the source failed (`observation.error`)            -> Error, naming the provider's error
2. a webhook answered a verdict itself                -> that verdict
3. fewer samples than `minSamples` (50 when unset, and
   for a quantile enough for 10 beyond it: 1000 for a
   p99; for judgements that compare with stable, on
   either variant; a source that counts none is not
   held to it)                                        -> Inconclusive, "N of M samples"
4. the judgement: prediction drift whatever the kind, else bounds (`min`/`max`),
   relative (`maxIncrease`) or statistical (`compare`), one module each under `judges/`.

A comparison and a bound on a counted proportion are tests of the candidate, read at every look;
a rollout runs `tests` of them (see `is_tested`) and each gets an even share of 1 - confidence, so
the confidence holds for the rollout as a whole (see `controller.analysis.sequential`).

Numbers no judge can use (successes above count, a NaN value, histograms on different bins)
are the source's fault and are judged Error too; `judge` never raises for an observation.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.analysis.judges import bounds, drift, relative, statistical
from controller.analysis.judges.evidence import RATE_METRICS, result
from controller.analysis.judges.samples import UnusableObservation, sample_count
from controller.analysis.observations import AnalysisResult, MetricObservation
from controller.api.metrics import DEFAULT_MIN_SAMPLES, MetricSpec, RouterMetric
from controller.api.status import Verdict

__all__ = ["QUANTILES", "TAIL_SAMPLES", "Judge", "is_tested", "judge", "judge_for", "sample_minimum"]

# Quantile metrics, and how many samples beyond its quantile a reading needs when minSamples is unset: a
# p99 of 50 samples is their largest, and reads a good candidate's one slow request as a regression.
QUANTILES = {
    RouterMetric.LATENCY_P50: 0.5,
    RouterMetric.LATENCY_P90: 0.9,
    RouterMetric.LATENCY_P99: 0.99,
    RouterMetric.SHADOW_LATENCY_P99: 0.99,
}
TAIL_SAMPLES = 10

Judge = Callable[[MetricSpec, MetricObservation, int], AnalysisResult]


def judge(metric: MetricSpec, observation: MetricObservation, tests: int = 1) -> AnalysisResult:
    """The verdict on one measurement of `metric`, with the numbers behind it; never raises.

    `tests`: how many tested metrics (see `is_tested`) the rollout judges over its windows, over
    which the confidence is shared.
    """
    if observation.error is not None:
        return result(Verdict.ERROR, f"{metric.name}: provider failed: {observation.error}", observation)
    if observation.verdict is not None:
        return result(
            observation.verdict, f"{metric.name}: the webhook answered {observation.verdict.value}", observation
        )
    chosen = judge_for(metric)
    if chosen is None:
        reason = f"{metric.name} has no min/max, maxIncrease or compare, and its source answered a value, not a verdict"
        return result(Verdict.ERROR, reason, observation)
    short = _too_few_samples(metric, observation, pairwise=chosen is not bounds.judge)
    if short is not None:
        return short
    try:
        return chosen(metric, observation, tests)
    except UnusableObservation as exc:
        return result(Verdict.ERROR, f"{metric.name}: unusable measurement: {exc}", observation)


def judge_for(metric: MetricSpec) -> Judge | None:
    """The judge for the metric's judgement kind; None for a webhook that judges by itself."""
    if metric.router is not None and metric.router.metric is RouterMetric.PREDICTION_DRIFT:
        return drift.judge
    if metric.compare is not None:
        return statistical.judge
    if metric.max_increase is not None:
        return relative.judge
    if metric.min_ is not None or metric.max_ is not None:
        return bounds.judge
    return None


def is_tested(metric: MetricSpec) -> bool:
    """Whether judging the metric is a statistical test: a comparison, a bound on a rate the router
    counts, or a maximum on prediction drift."""
    if metric.compare is not None:
        return True
    if metric.router is None:
        return False
    if metric.router.metric is RouterMetric.PREDICTION_DRIFT:
        return metric.max_ is not None
    return (metric.min_ is not None or metric.max_ is not None) and metric.router.metric in RATE_METRICS


def sample_minimum(metric: MetricSpec) -> int:
    """Samples each variant needs: minSamples, else 50, or for a quantile enough for TAIL_SAMPLES beyond it."""
    quantile = QUANTILES.get(metric.router.metric) if metric.router is not None else None
    if metric.min_samples is not None or quantile is None:
        return metric.sample_minimum
    return max(DEFAULT_MIN_SAMPLES, round(TAIL_SAMPLES / (1 - quantile)))


def _too_few_samples(metric: MetricSpec, observation: MetricObservation, pairwise: bool) -> AnalysisResult | None:
    """Inconclusive when a variant the judgement reads has fewer than `minSamples` samples.

    A sample its source did not count is not held to the minimum: the API refuses minSamples on
    a Prometheus query without samplesQuery, and a webhook that omits samples for a metric that
    sets minSamples is an Error, so this is only ever the unset default.
    """
    variants = [("candidate", observation.candidate)]
    if pairwise:
        variants.append(("stable", observation.stable))
    needed = sample_minimum(metric)
    for variant, sample in variants:
        if sample is not None and not sample.counted:
            continue
        count = sample_count(sample)
        if count < needed:
            reason = f"{metric.name}: {variant} has {count} of {needed} samples needed"
            return result(Verdict.INCONCLUSIVE, reason, observation)
    return None
