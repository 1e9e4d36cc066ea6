"""The hot path's counters: plain ints and lists, updated in place, read into `RouterStats` on demand.

Nothing here allocates per request beyond a bisect; `/stats` and `/metrics` snapshot it when
they are asked, so measuring costs the proxy almost nothing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from router.compare import Comparison, Scalar, label_key
from router.features import FEATURE_EDGES, FeatureCounters
from router.stats import (
    ABS_DIFF_BUCKETS,
    LATENCY_BUCKETS_S,
    ErrorCounts,
    FeatureStats,
    Histogram,
    RouterStats,
    ShadowComparison,
    ShedCounts,
    VariantStats,
)

__all__ = ["MOSTLY_UNREADABLE_MIN", "OTHER_LABEL", "Measurements", "Readability", "VariantCounters"]

# Labels beyond the configured number of categories are counted together under this one.
OTHER_LABEL = "__other__"
# Answers a variant must have given under the config in force before "most cannot be read" is
# said of it: a handful of error pages at start-up is no verdict on the protocol setting.
MOSTLY_UNREADABLE_MIN = 10


@dataclass(frozen=True, slots=True)
class Readability:
    """One variant's answers under the config in force: how many were looked at, how many unreadable."""

    answers: int
    unreadable: int

    @property
    def ratio(self) -> float:
        return self.unreadable / self.answers if self.answers else 0.0

    @property
    def mostly_unreadable(self) -> bool:
        return self.answers >= MOSTLY_UNREADABLE_MIN and 2 * self.unreadable > self.answers


class VariantCounters:
    """Cumulative counts for one variant (stable, candidate or shadow)."""

    __slots__ = (
        "analysed", "baseline", "bins", "correct", "edges", "errors", "labelled", "labels", "latency", "max_labels",
        "not_analysed", "requests",
    )  # fmt: skip

    def __init__(self, edges: Sequence[float], max_labels: int) -> None:
        self.requests = 0
        self.errors = {"status_5xx": 0, "connect": 0, "timeout": 0, "protocol": 0}
        self.latency = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.edges: tuple[float, ...] = tuple(edges)
        self.bins = [0] * (len(self.edges) + 1)
        self.labels: dict[str, int] = {}
        self.max_labels = max_labels
        self.not_analysed = 0
        self.analysed = 0
        # (analysed, not_analysed) when the config in force arrived: readability is judged since then,
        # so a corrected protocol setting is seen as corrected at once.
        self.baseline = (0, 0)
        self.labelled = 0
        self.correct = 0

    def observe(self, status: int, latency_s: float) -> None:
        """A call answered with `status` after `latency_s` seconds."""
        self.requests += 1
        if status >= 500:
            self.errors["status_5xx"] += 1
        self.latency[bisect_left(LATENCY_BUCKETS_S, latency_s)] += 1

    def fail(self, kind: str, latency_s: float) -> None:
        """A call that got no HTTP answer: `kind` is connect, timeout or protocol."""
        self.requests += 1
        self.errors[kind] += 1
        self.latency[bisect_left(LATENCY_BUCKETS_S, latency_s)] += 1

    def predicted(self, predictions: list[Scalar] | None) -> None:
        if predictions is None:
            self.not_analysed += 1
            return
        self.analysed += 1
        for value in predictions:
            if type(value) is float:
                self.bins[bisect_left(self.edges, value)] += 1
            else:
                self._count_label(label_key(value))

    def rebin(self, edges: Sequence[float], max_labels: int) -> None:
        """New bins start empty; a consumer sees the edges change and treats it as a reset."""
        self.max_labels = max_labels
        self.baseline = (self.analysed, self.not_analysed)
        if tuple(edges) != self.edges:
            self.edges = tuple(edges)
            self.bins = [0] * (len(self.edges) + 1)

    def readability(self) -> Readability:
        """Answers looked at since the config in force arrived, and how many of them were unreadable."""
        analysed, unreadable = self.analysed - self.baseline[0], self.not_analysed - self.baseline[1]
        return Readability(answers=analysed + unreadable, unreadable=unreadable)

    def snapshot(self) -> VariantStats:
        return VariantStats(
            requests=self.requests,
            errors=ErrorCounts(**self.errors),
            latency_s=Histogram(edges=LATENCY_BUCKETS_S, counts=tuple(self.latency)),
            predictions=Histogram(edges=self.edges, counts=tuple(self.bins)),
            labels=dict(self.labels),
            not_analysed=self.not_analysed,
            analysed=self.analysed,
            labelled=self.labelled,
            correct=self.correct,
        )

    def _count_label(self, key: str) -> None:
        if key not in self.labels and len(self.labels) >= self.max_labels:
            key = OTHER_LABEL
        self.labels[key] = self.labels.get(key, 0) + 1


class Measurements:
    """Every counter one router process keeps, per variant and for shadow comparisons."""

    def __init__(self, edges: Sequence[float], max_labels: int) -> None:
        self.variants = {name: VariantCounters(edges, max_labels) for name in ("stable", "candidate", "shadow")}
        self.mirrored = 0
        self.dropped = 0
        self.compared = 0
        self.agreed = 0
        self.abs_diff = [0] * (len(ABS_DIFF_BUCKETS) + 1)
        self.config_errors = 0
        self.feedback_unmatched = 0
        self.feedback_late = 0
        self.feedback_peer_errors = 0
        self.client_disconnects = 0
        self.upstream_retries = 0
        self.shed = dict.fromkeys(ShedCounts.model_fields, 0)  # kept by router.load.Load, by reason
        self.features = FeatureCounters(max_features=100, max_categories=50)

    def rebin(self, edges: Sequence[float], max_labels: int) -> None:
        """A new config's prediction bins and label cap (its feature caps come through `features.resize`)."""
        for counters in self.variants.values():
            counters.rebin(edges, max_labels)

    def compared_with_shadow(self, comparison: Comparison) -> None:
        self.compared += 1
        self.agreed += comparison.agreed
        if comparison.max_abs_diff is not None:
            self.abs_diff[bisect_left(ABS_DIFF_BUCKETS, comparison.max_abs_diff)] += 1

    def snapshot(
        self, instance_id: str, started_at: datetime, generation: int | None, unreadable_sample: str | None = None
    ) -> RouterStats:
        return RouterStats(
            instance_id=instance_id,
            started_at=started_at,
            generation=generation,
            unreadable_sample=unreadable_sample,
            config_errors=self.config_errors,
            feedback_unmatched=self.feedback_unmatched,
            feedback_late=self.feedback_late,
            feedback_peer_errors=self.feedback_peer_errors,
            client_disconnects=self.client_disconnects,
            upstream_retries=self.upstream_retries,
            shed=ShedCounts(**self.shed),
            stable=self.variants["stable"].snapshot(),
            candidate=self.variants["candidate"].snapshot(),
            shadow=self.variants["shadow"].snapshot(),
            shadow_comparison=ShadowComparison(
                mirrored=self.mirrored,
                dropped=self.dropped,
                compared=self.compared,
                agreed=self.agreed,
                abs_diff=Histogram(edges=ABS_DIFF_BUCKETS, counts=tuple(self.abs_diff)),
            ),
            features_sampled=self.features.sampled,
            features_dropped=self.features.dropped,
            features={name: _feature_stats(f.bins, f.categories) for name, f in self.features.features.items()},
        )


def _feature_stats(bins: list[int] | None, categories: dict[str, int]) -> FeatureStats:
    numeric = Histogram(edges=FEATURE_EDGES, counts=tuple(bins)) if bins is not None else None
    return FeatureStats(numeric=numeric, categories=dict(categories))
