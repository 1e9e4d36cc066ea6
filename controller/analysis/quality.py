"""Quality bounds of a monitored model over a window: error rate, p99 latency, accuracy from labels.

Each bound is flagged only when the window shows it broken beyond chance, at `1 - confidence`:

- error rate above `max`: the errors are too many for a true rate of `max` (binomial, one-sided);
- p99 latency above `max`: more than 1% of requests certainly took longer than `max` (those in
  bins whose lower edge is at least `max`), too many for a true share of 1% (binomial, one-sided).
  Counting only bins wholly above the bound never mistakes a fast request for a slow one;
- accuracy below `min`: too few correct answers for a true accuracy of `min` (binomial, one-sided);
- accuracy more than `maxDrop` below the reference's: a one-sided test of the difference of two
  proportions (normal approximation, both samples counted), shifted by the allowed drop.

A bound with fewer than `minSamples` requests (labels, for accuracy) behind it is not judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import stats

from controller.api.monitoring import QualitySpec

__all__ = ["QualityCounts", "QualityResult", "judge_quality", "p99_upper_s"]

_TAIL = 0.01  # the share of requests above the p99, by definition


@dataclass(frozen=True)
class QualityCounts:
    """What a window (or reference) holds for the quality bounds."""

    requests: int
    errors: int
    latency_edges: Sequence[float]
    latency_counts: Sequence[int]
    labelled: int
    correct: int


@dataclass(frozen=True)
class QualityResult:
    judged: bool
    broken: list[str] = field(default_factory=list)
    error_rate: float | None = None
    latency_p99_s: float | None = None
    accuracy: float | None = None


def p99_upper_s(edges: Sequence[float], counts: Sequence[int]) -> float | None:
    """The upper edge of the bin holding the 99th percentile (the last edge for the overflow bin)."""
    total = sum(counts)
    if total == 0 or not edges:
        return None
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= total * (1 - _TAIL):
            return edges[min(index, len(edges) - 1)]
    return edges[-1]


def judge_quality(window: QualityCounts, reference_labelled: int, reference_correct: int, spec: QualitySpec) -> QualityResult:
    alpha = 1 - spec.confidence
    broken: list[str] = []
    judged = False
    error_rate = window.errors / window.requests if window.requests else None
    if spec.max_error_rate is not None and window.requests >= spec.min_samples:
        judged = True
        p = float(stats.binom.sf(window.errors - 1, window.requests, spec.max_error_rate))
        if p < alpha:
            broken.append(f"error rate {error_rate:.4f} above {spec.max_error_rate:g} ({window.errors} of {window.requests}, p={p:.2g})")
    p99 = p99_upper_s(window.latency_edges, window.latency_counts)
    total = sum(window.latency_counts)
    if spec.max_latency_p99 is not None and total >= spec.min_samples:
        judged = True
        bound = spec.max_latency_p99
        # Bin i holds (edges[i-1], edges[i]]; the overflow bin holds values above the last edge.
        lower_edges = [-math.inf, *window.latency_edges]
        slower = sum(c for lower, c in zip(lower_edges, window.latency_counts) if lower >= bound)
        p = float(stats.binom.sf(slower - 1, total, _TAIL))
        if p < alpha:
            broken.append(f"p99 latency above {bound:g}s ({slower} of {total} requests slower, p={p:.2g})")
    accuracy = window.correct / window.labelled if window.labelled else None
    if window.labelled >= spec.min_samples:
        if spec.min_accuracy is not None:
            judged = True
            p = float(stats.binom.cdf(window.correct, window.labelled, spec.min_accuracy))
            if p < alpha:
                broken.append(f"accuracy {accuracy:.4f} below {spec.min_accuracy:g} ({window.correct} of {window.labelled}, p={p:.2g})")
        if spec.max_accuracy_drop is not None and reference_labelled >= spec.min_samples:
            judged = True
            drop, p = _accuracy_drop(window.correct, window.labelled, reference_correct, reference_labelled, spec.max_accuracy_drop)
            if p < alpha:
                before = reference_correct / reference_labelled
                broken.append(
                    f"accuracy {accuracy:.4f}, down {drop:.4f} from the reference's {before:.4f}:"
                    f" more than the {spec.max_accuracy_drop:g} allowed (p={p:.2g})"
                )
    return QualityResult(judged=judged, broken=broken, error_rate=error_rate, latency_p99_s=p99, accuracy=accuracy)


def _accuracy_drop(correct: int, labelled: int, ref_correct: int, ref_labelled: int, allowed: float) -> tuple[float, float]:
    """(observed drop, one-sided p of "the drop is at most `allowed`")."""
    now, before = correct / labelled, ref_correct / ref_labelled
    spread = math.sqrt(now * (1 - now) / labelled + before * (1 - before) / ref_labelled)
    drop = before - now
    if spread == 0:
        return drop, 0.0 if drop > allowed else 1.0
    return drop, float(stats.norm.sf((drop - allowed) / spread))
