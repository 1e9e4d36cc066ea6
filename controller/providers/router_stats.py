"""Router metrics: a window of router `/stats` (already diffed and merged) -> one MetricObservation.

Pure: the caller fetches, diffs (`router.stats.delta`) and merges (`router.stats.merge`); this
module only reads numbers out. Proportions come with successes/count so the judges can run exact
tests; latency and predictions come with histograms so they can compare whole distributions.
"""

from __future__ import annotations

from datetime import datetime

from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.api.metrics import MetricSpec, RouterMetric
from router.stats import Histogram, RouterStats, VariantStats

__all__ = ["observe_router_metric", "to_bins", "quantile"]


def to_bins(histogram: Histogram, floor: float | None = 0.0) -> BinCounts:
    """Router histograms (`le` edges plus overflow) as closed bins: edges gain an outer edge each side.

    The under- and overflow bins get the width of their neighbour, so midpoints stay plausible;
    `floor` keeps the lower edge at 0 for quantities that cannot be negative (latency, scores).
    """
    edges = list(histogram.edges)
    first_width = edges[1] - edges[0] if len(edges) > 1 else 1.0
    last_width = edges[-1] - edges[-2] if len(edges) > 1 else 1.0
    low = edges[0] - first_width
    if floor is not None and edges[0] > floor:
        low = max(low, floor)
    if not low < edges[0]:
        low = edges[0] - first_width
    return BinCounts(edges=[low, *edges, edges[-1] + last_width], counts=list(histogram.counts))


def quantile(histogram: Histogram, q: float) -> float | None:
    """The upper edge of the bin holding the q-th quantile (the conservative Prometheus-style reading)."""
    total = histogram.total
    if total == 0:
        return None
    rank = q * total
    running = 0
    for index, count in enumerate(histogram.counts):
        running += count
        if running >= rank and count:
            return histogram.edges[min(index, len(histogram.edges) - 1)]
    return histogram.edges[-1]


def _mean(histogram: Histogram) -> float | None:
    bins = to_bins(histogram)
    total = histogram.total
    if total == 0:
        return None
    mids = [(a + b) / 2 for a, b in zip(bins.edges, bins.edges[1:])]
    return sum(m * c for m, c in zip(mids, bins.counts)) / total


def _proportion(successes: int, count: int) -> VariantSample:
    return VariantSample(count=count, successes=min(successes, count), value=successes / count if count else None)


def _rate(stats: VariantStats, window_s: float) -> VariantSample:
    """Requests per second over the window; unknown without one."""
    return VariantSample(count=stats.requests, value=stats.requests / window_s if window_s > 0 else None)


def _error_rate(stats: VariantStats) -> VariantSample:
    return _proportion(stats.errors.total, stats.requests)


def _latency(stats: VariantStats, q: float | None) -> VariantSample:
    histogram = stats.latency_s
    value = _mean(histogram) if q is None else quantile(histogram, q)
    return VariantSample(count=histogram.total, value=value, histogram=to_bins(histogram))


def _predictions(stats: VariantStats) -> VariantSample:
    numeric = stats.predictions
    numeric_total = numeric.total if numeric is not None else 0
    label_total = sum(stats.labels.values())
    histogram = to_bins(numeric, floor=None) if numeric is not None and numeric_total else None
    categories = dict(stats.labels) if label_total else None
    return VariantSample(count=numeric_total + label_total, histogram=histogram, categories=categories)


def _candidate_predictions(stats: RouterStats) -> VariantStats:
    """Live candidate answers once it takes traffic; its mirrored answers while it is a shadow."""
    live, shadow = stats.candidate, stats.shadow
    live_total = (live.predictions.total if live.predictions else 0) + sum(live.labels.values())
    return live if live_total else shadow


def _pair(metric: RouterMetric, stats: RouterStats, window_s: float) -> tuple[VariantSample | None, VariantSample | None]:
    match metric:
        case RouterMetric.REQUEST_RATE:
            return _rate(stats.candidate, window_s), _rate(stats.stable, window_s)
        case RouterMetric.ERROR_RATE:
            return _error_rate(stats.candidate), _error_rate(stats.stable)
        case RouterMetric.LATENCY_P50 | RouterMetric.LATENCY_P90 | RouterMetric.LATENCY_P99 | RouterMetric.LATENCY:
            q = {RouterMetric.LATENCY_P50: 0.5, RouterMetric.LATENCY_P90: 0.9, RouterMetric.LATENCY_P99: 0.99}.get(metric)
            return _latency(stats.candidate, q), _latency(stats.stable, q)
        case RouterMetric.SHADOW_AGREEMENT:
            comparison = stats.shadow_comparison
            return _proportion(comparison.agreed, comparison.compared), None
        case RouterMetric.SHADOW_ERROR_RATE:
            return _error_rate(stats.shadow), _error_rate(stats.stable)
        case RouterMetric.SHADOW_LATENCY_P99:
            return _latency(stats.shadow, 0.99), _latency(stats.stable, 0.99)
        case RouterMetric.PREDICTION_DRIFT:
            return _predictions(_candidate_predictions(stats)), _predictions(stats.stable)
        case RouterMetric.ACCURACY:
            # While the candidate is a shadow its mirrored answers are judged against the same labels as stable's.
            judged = stats.candidate if stats.candidate.labelled else stats.shadow
            return _proportion(judged.correct, judged.labelled), _proportion(stats.stable.correct, stats.stable.labelled)
    raise ValueError(f"router metric {metric} has no mapping")  # unreachable: the match is exhaustive


def observe_router_metric(
    metric: MetricSpec, stats: RouterStats, window_start: datetime | None, now: datetime
) -> MetricObservation:
    """The observation of `metric` from `stats`, which already cover exactly the window."""
    if metric.router is None:
        raise ValueError(f"metric {metric.name!r} has no router source")
    window_s = (now - window_start).total_seconds() if window_start else 0.0
    candidate, stable = _pair(metric.router.metric, stats, window_s)
    return MetricObservation(
        metric=metric.name, candidate=candidate, stable=stable, window_start=window_start, window_end=now
    )
