"""`/metrics`: the router's counters in Prometheus text, built from a stats snapshot at scrape time.

Nothing Prometheus-related runs per request: a custom collector reads the same snapshot
`/stats` serves and turns it into metric families named `modelrollout_router_*`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from router.load import Load
from router.measure import Readability
from router.stats import Histogram, RouterStats, VariantStats

__all__ = ["PREFIX", "RouterCollector", "exposition"]

PREFIX = "modelrollout_router_"
_VARIANTS = ("stable", "candidate", "shadow")


class RouterCollector(Collector):
    """Collects from `snapshot()` on every scrape."""

    def __init__(
        self, snapshot: Callable[[], RouterStats], load: Load | None = None,
        readability: Callable[[], dict[str, Readability]] | None = None,
    ) -> None:  # fmt: skip
        self._snapshot = snapshot
        self._load = load
        self._readability = readability

    def collect(self) -> Iterator[Metric]:
        stats = self._snapshot()
        variants = {name: getattr(stats, name) for name in _VARIANTS}
        yield from _variant_families(variants)
        yield from _shadow_families(stats)
        yield from _router_families(stats)
        if self._readability is not None:
            yield _unreadable_family(self._readability())
        if self._load is not None:
            yield from _load_families(self._load)


def exposition(
    snapshot: Callable[[], RouterStats], load: Load | None = None, readability: Callable[[], dict[str, Readability]] | None = None
) -> bytes:
    """The Prometheus text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(snapshot, load, readability))
    return generate_latest(registry)


def _load_families(load: Load) -> Iterator[Metric]:
    """What the router holds now, beside the limits it is held to."""
    limits = load.limits
    yield GaugeMetricFamily(PREFIX + "client_connections", "Client connections open on the data port.", value=load.connections)
    yield GaugeMetricFamily(PREFIX + "client_connections_limit", "maxClientConnections in force.", value=limits.client_connections)
    in_flight = GaugeMetricFamily(PREFIX + "in_flight", "Requests being answered, by variant.", labels=["variant"])
    for variant, count in load.in_flight.items():
        in_flight.add_metric([variant], count)
    yield in_flight
    yield GaugeMetricFamily(PREFIX + "in_flight_limit", "maxInFlightPerVariant in force.", value=limits.in_flight_per_variant)
    yield GaugeMetricFamily(PREFIX + "buffered_bytes", "Request body bytes held in memory.", value=load.buffered)
    yield GaugeMetricFamily(PREFIX + "buffered_bytes_limit", "maxBufferedBytes in force.", value=limits.buffered_bytes)


def _unreadable_family(readability: dict[str, Readability]) -> Metric:
    """A gauge, not only the counters: an alert on it needs no rate() window and resets with the config."""
    ratio = GaugeMetricFamily(
        PREFIX + "predictions_unreadable_ratio",
        "Share of answers since the config in force whose predictions could not be read under predictions.protocol.",
        labels=["variant"],
    )
    for variant, counts in readability.items():
        ratio.add_metric([variant], counts.ratio)
    return ratio


def _variant_families(variants: dict[str, VariantStats]) -> Iterator[Metric]:
    labels = ["variant"]
    requests = CounterMetricFamily(PREFIX + "requests", "Calls made to each variant.", labels=labels)
    errors = CounterMetricFamily(
        PREFIX + "errors", "Failed calls by kind: status_5xx, connect, timeout, protocol.", labels=["variant", "kind"]
    )
    latency = HistogramMetricFamily(PREFIX + "request_duration_seconds", "Upstream call latency.", labels=labels)
    scores = HistogramMetricFamily(PREFIX + "predictions", "Numeric predictions, on the configured bins.", labels=labels)
    classes = CounterMetricFamily(PREFIX + "prediction_labels", "Label predictions by label.", labels=["variant", "label"])
    skipped = CounterMetricFamily(PREFIX + "not_analysed", "Answers whose predictions could not be found.", labels=labels)
    analysed = CounterMetricFamily(PREFIX + "analysed", "Answers whose predictions were found.", labels=labels)
    labelled = CounterMetricFamily(PREFIX + "feedback_labelled", "Predictions joined to a true label.", labels=labels)
    correct = CounterMetricFamily(PREFIX + "feedback_correct", "Joined predictions that matched the label.", labels=labels)
    for name, variant in variants.items():
        requests.add_metric([name], variant.requests)
        for kind, count in variant.errors.model_dump().items():
            errors.add_metric([name, kind], count)
        latency.add_metric([name], _buckets(variant.latency_s), None)
        if variant.predictions is not None:
            scores.add_metric([name], _buckets(variant.predictions), None)
        for label, count in variant.labels.items():
            classes.add_metric([name, label], count)
        skipped.add_metric([name], variant.not_analysed)
        analysed.add_metric([name], variant.analysed)
        labelled.add_metric([name], variant.labelled)
        correct.add_metric([name], variant.correct)
    yield from (requests, errors, latency, scores, classes, skipped, analysed, labelled, correct)


def _shadow_families(stats: RouterStats) -> Iterator[Metric]:
    shadow = stats.shadow_comparison
    yield CounterMetricFamily(PREFIX + "shadow_mirrored", "Requests copied to the candidate.", value=shadow.mirrored)
    yield CounterMetricFamily(
        PREFIX + "mirror_dropped",
        'Copies not sent: at mirrorMaxInFlight, or shed under load (also counted in shed_total{reason="mirror"}).',
        value=shadow.dropped,
    )
    yield CounterMetricFamily(PREFIX + "shadow_compared", "Shadow answers compared with the stable's.", value=shadow.compared)
    yield CounterMetricFamily(PREFIX + "shadow_agreed", "Compared shadow answers that agreed.", value=shadow.agreed)
    diff = HistogramMetricFamily(PREFIX + "shadow_abs_diff", "Largest |stable - shadow| per compared request.")
    diff.add_metric([], _buckets(shadow.abs_diff), None)
    yield diff


def _router_families(stats: RouterStats) -> Iterator[Metric]:
    yield CounterMetricFamily(PREFIX + "config_errors", "Configs rejected as invalid.", value=stats.config_errors)
    yield CounterMetricFamily(PREFIX + "feedback_unmatched", "Labels for request ids no replica holds.", value=stats.feedback_unmatched)
    yield CounterMetricFamily(PREFIX + "feedback_late", "Labels that came after their prediction was forgotten.", value=stats.feedback_late)
    yield CounterMetricFamily(PREFIX + "feedback_peer_errors", "Label batches a peer did not answer.", value=stats.feedback_peer_errors)
    yield CounterMetricFamily(PREFIX + "features_sampled", "Requests whose input features were counted.", value=stats.features_sampled)
    yield CounterMetricFamily(PREFIX + "features_dropped", "Feature values past maxFeatures, not counted.", value=stats.features_dropped)
    yield CounterMetricFamily(PREFIX + "client_disconnects", "Clients gone before their request was read.", value=stats.client_disconnects)
    yield CounterMetricFamily(
        PREFIX + "upstream_retries",
        "Requests moved to a fresh upstream connection: the pooled one was closed before any byte of them was sent.",
        value=stats.upstream_retries,
    )
    shed = CounterMetricFamily(
        PREFIX + "shed", "Work refused with 503, or mirrored copies not sent, because a limit was reached.", labels=["reason"]
    )
    for reason, count in stats.shed.model_dump().items():
        shed.add_metric([reason], count)
    yield shed
    generation = GaugeMetricFamily(PREFIX + "config_generation", "Generation of the config in force (-1: none yet).")
    generation.add_metric([], -1 if stats.generation is None else stats.generation)
    yield generation
    info = GaugeMetricFamily(PREFIX + "start_time_seconds", "When this router process started.", labels=["instance_id"])
    info.add_metric([stats.instance_id], stats.started_at.timestamp())
    yield info


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    """Cumulative `le` buckets, ending with +Inf (the histogram's overflow count included)."""
    buckets: list[tuple[str, float]] = []
    running = 0
    for edge, count in zip(histogram.edges, histogram.counts):
        running += count
        buckets.append((repr(float(edge)), running))
    buckets.append(("+Inf", running + histogram.counts[-1]))
    return buckets
