"""The router's `/stats` JSON: cumulative counters per variant, and how to merge and diff them.

Every count is cumulative since the process started; `instanceId` changes on every start.
To follow a fleet of replicas, diff each replica's polls with `delta` (a changed instance id
means a restart: the new counts are all new, never negative) and sum the deltas with `merge`.
Histograms use fixed edges so replicas can be summed: `counts[0]` holds values <= `edges[0]`,
`counts[i]` values in (`edges[i-1]`, `edges[i]`], and the last count values above the last edge.
Kept free of heavy imports: the controller imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from router.errors import StatsMergeError

__all__ = [
    "StatsMergeError",
    "ABS_DIFF_BUCKETS",
    "FEATURE_EDGES",
    "LATENCY_BUCKETS_S",
    "ErrorCounts",
    "FeatureStats",
    "Histogram",
    "RouterStats",
    "ShadowComparison",
    "ShedCounts",
    "VariantStats",
    "delta",
    "merge",
]

LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
# Input features' numbers: 1-2-5 steps from 0.001 to 5e6 each side of zero, the same in every replica
# and in a baseline from training data (`modelrollout baseline`), so all their counts add up and compare.
_MAGNITUDES: tuple[float, ...] = tuple(m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5))
FEATURE_EDGES: tuple[float, ...] = (*sorted(-m for m in _MAGNITUDES), 0.0, *_MAGNITUDES)
# |stable - shadow| per request; the first bin holds exact agreement.
ABS_DIFF_BUCKETS: tuple[float, ...] = (0.0, 1e-6, 1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

_Mismatch = Literal["raise", "take_after"]


class StatsModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Histogram(StatsModel):
    """Counts over fixed edges, Prometheus `le` style plus an overflow count (see module doc)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @model_validator(mode="after")
    def _shape(self) -> Histogram:
        if len(self.counts) != len(self.edges) + 1:
            raise ValueError(f"{len(self.counts)} counts for {len(self.edges)} edges; expected edges + 1")
        if any(count < 0 for count in self.counts):
            raise ValueError("histogram counts must be >= 0")
        return self

    @classmethod
    def empty(cls, edges: Sequence[float]) -> Histogram:
        return cls(edges=tuple(edges), counts=(0,) * (len(edges) + 1))

    @property
    def total(self) -> int:
        return sum(self.counts)


class ErrorCounts(StatsModel):
    status_5xx: int = Field(default=0, ge=0, alias="status5xx")
    connect: int = Field(default=0, ge=0)
    timeout: int = Field(default=0, ge=0)
    # The upstream answered with something that is not a valid HTTP response.
    protocol: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        return self.status_5xx + self.connect + self.timeout + self.protocol


class VariantStats(StatsModel):
    """One variant's calls: how many, how they failed, how long they took, what they predicted."""

    requests: int = Field(default=0, ge=0)
    errors: ErrorCounts = ErrorCounts()
    latency_s: Histogram = Histogram.empty(LATENCY_BUCKETS_S)
    # Float predictions (scores) binned on the configured edges; other predictions by label.
    predictions: Histogram | None = None
    labels: dict[str, int] = Field(default_factory=dict)
    # Answers whose predictions could not be found (not JSON, unknown protocol, no such path).
    not_analysed: int = Field(default=0, ge=0)
    # Answers whose predictions were found; with `not_analysed`, how well the protocol setting reads.
    analysed: int = Field(default=0, ge=0)
    # Feedback joined to this variant's prediction, and how many of those it got right.
    labelled: int = Field(default=0, ge=0)
    correct: int = Field(default=0, ge=0)


class ShadowComparison(StatsModel):
    """Mirrored requests: sent, dropped at the in-flight cap, compared with stable, agreed."""

    mirrored: int = Field(default=0, ge=0)
    dropped: int = Field(default=0, ge=0)
    compared: int = Field(default=0, ge=0)
    agreed: int = Field(default=0, ge=0)
    abs_diff: Histogram = Histogram.empty(ABS_DIFF_BUCKETS)


class ShedCounts(StatsModel):
    """Work refused with 503 (or, for mirrored copies, not sent) because a limit was reached."""

    client_connections: int = Field(default=0, ge=0)
    in_flight: int = Field(default=0, ge=0)
    buffered_bytes: int = Field(default=0, ge=0)
    mirror: int = Field(default=0, ge=0)


class FeatureStats(StatsModel):
    """One input feature over the sampled requests: numbers on `router.features.FEATURE_EDGES`, other values by category."""

    numeric: Histogram | None = None
    categories: dict[str, int] = Field(default_factory=dict)


class RouterStats(StatsModel):
    instance_id: str
    started_at: datetime
    # The config generation in force; None until a valid config arrived. Merged: the lowest.
    generation: int | None
    # The shape of the last answer the config in force could not read: top-level keys only, never
    # values (`router.compare.shape_of`). Merged: any replica's.
    unreadable_sample: str | None = None
    config_errors: int = Field(default=0, ge=0)
    # Labels for no prediction held anywhere; labels whose prediction was forgotten (past the retention
    # window or capacity); forwarded batches a peer did not answer (router.peers).
    feedback_unmatched: int = Field(default=0, ge=0)
    feedback_late: int = Field(default=0, ge=0)
    feedback_peer_errors: int = Field(default=0, ge=0)
    client_disconnects: int = Field(default=0, ge=0)
    # Requests moved to a fresh connection: the pooled one was closed before any byte of them left.
    upstream_retries: int = Field(default=0, ge=0)
    shed: ShedCounts = ShedCounts()
    stable: VariantStats = VariantStats()
    candidate: VariantStats = VariantStats()
    shadow: VariantStats = VariantStats()
    shadow_comparison: ShadowComparison = ShadowComparison()
    # Requests whose input features were counted, values of features past the cap, and the features.
    features_sampled: int = Field(default=0, ge=0)
    features_dropped: int = Field(default=0, ge=0)
    features: dict[str, FeatureStats] = Field(default_factory=dict)


_IDENTITY_FIELDS = ("instance_id", "started_at", "generation", "unreadable_sample")


def merge(snapshots: Sequence[RouterStats]) -> RouterStats:
    """The sum of several replicas' stats (or of their deltas); histogram edges must match."""
    if not snapshots:
        raise StatsMergeError("nothing to merge; expected at least one stats snapshot")
    counters = snapshots[0].model_dump()
    for other in snapshots[1:]:
        counters = _combine(counters, other.model_dump(), 1, "", "raise")
    generations = [s.generation for s in snapshots]
    counters.update(
        instance_id="+".join(sorted({s.instance_id for s in snapshots})),
        started_at=min(s.started_at for s in snapshots),
        generation=None if None in generations else min(g for g in generations if g is not None),
    )
    return RouterStats.model_validate(counters)


def delta(before: RouterStats | None, after: RouterStats) -> RouterStats:
    """What happened between two polls of one replica; a restart in between counts as a reset."""
    if before is None or before.instance_id != after.instance_id:
        return after
    counters = _combine(after.model_dump(), before.model_dump(), -1, "", "take_after")
    counters.update({name: getattr(after, name) for name in _IDENTITY_FIELDS})
    return RouterStats.model_validate(counters)


def _combine(a: Any, b: Any, sign: int, path: str, mismatch: _Mismatch) -> Any:
    """`a + sign * b` over a dumped stats tree; `path` names the field in errors."""
    if isinstance(b, dict) and not isinstance(a, dict):  # a key only the second side has, e.g. a new feature
        return b if sign > 0 else a
    if isinstance(a, dict) and set(a) == {"edges", "counts"}:
        return _combine_histogram(a, b, sign, path, mismatch)
    if isinstance(a, dict):
        keys = dict.fromkeys([*a, *(b or {})]) if sign > 0 else a
        return {k: _combine(a.get(k, 0), (b or {}).get(k, 0), sign, f"{path}.{k}", mismatch) for k in keys}
    if isinstance(a, int) and isinstance(b, int):
        return a + sign * b if sign > 0 or a >= b else a
    return a if a is not None or b == 0 else b  # b == 0: the other side lacks the field


def _combine_histogram(a: dict[str, Any], b: Any, sign: int, path: str, mismatch: _Mismatch) -> dict[str, Any]:
    if b is None or b == 0:
        return a
    if tuple(a["edges"]) != tuple(b["edges"]):
        if mismatch == "take_after":
            return a
        raise StatsMergeError(f"{path.lstrip('.')}: edges {list(a['edges'])} differ from {list(b['edges'])}; expected the same bins")
    counts = [x + sign * y for x, y in zip(a["counts"], b["counts"])]
    return {"edges": a["edges"], "counts": counts if min(counts) >= 0 else a["counts"]}
