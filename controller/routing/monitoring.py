"""The MonitoringSource port over the routers' `/stats`, in a cluster and on one machine.

Every check reads the routers once and keeps the round as a snapshot; a window is the fleet's
counts between the snapshot taken nearest before its start (`routing.measure.window_stats`:
per-pod differences, a restarted router counted from its start) and the round just read. So the
sliding window slides by whole checks, and after a controller restart it starts again from the
first round read (the window then reports its real, shorter start). Snapshots older than the
longest window the spec asks for (the window or the reference capture) are dropped.

The reference comes from a `ReferenceStore`: the live reference last saved for the revision, or
the named baseline. A loaded reference is kept in memory, so a check reads the store only when the
reference changes or none is held.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Protocol

from controller.api.monitoring import FeatureCounts, ModelReference
from controller.api.resource import ModelRollout
from controller.engine.actions import SaveReference
from controller.engine.inputs import MonitoringObservation, MonitoringRequest, MonitoringWindow
from controller.routing.measure import RouterReadings, Snapshot, readings_failure, window_stats
from router.stats import RouterStats, StatsMergeError

__all__ = ["ReferenceStore", "ReferenceUnavailable", "RouterMonitor", "monitoring_window"]

# A snapshot this close after a window's start still counts as taken at it: checks run on the
# reconcile's timer, never exactly one interval apart.
_START_TOLERANCE = timedelta(seconds=5)
_MAX_SNAPSHOTS = 512


class ReferenceUnavailable(Exception):
    """A baseline that cannot be read: the message names which and why."""


class ReferenceStore(Protocol):
    async def load(self, rollout: ModelRollout) -> ModelReference | None:
        """The live reference last saved for this rollout, if any (whichever revision it describes)."""
        ...

    async def load_baseline(self, rollout: ModelRollout, name: str) -> ModelReference:
        """The baseline `name` (a ConfigMap in the rollout's namespace, a file locally); raises ReferenceUnavailable."""
        ...

    async def save(self, rollout: ModelRollout, reference: ModelReference) -> None: ...


def monitoring_window(stats: RouterStats, start: datetime | None, end: datetime) -> MonitoringWindow:
    """The stable variant's traffic and the input features in one window of router counts."""
    stable = stats.stable
    predictions: FeatureCounts | None = None
    if stable.predictions is not None and stable.predictions.total > 0:
        predictions = FeatureCounts(bins=list(stable.predictions.counts))
    elif stable.labels:
        predictions = FeatureCounts(categories=dict(stable.labels))
    features = {
        name: FeatureCounts(bins=list(f.numeric.counts) if f.numeric is not None else None, categories=dict(f.categories))
        for name, f in stats.features.items()
    }
    return MonitoringWindow(
        start=start,
        end=end,
        requests=stable.requests,
        errors=stable.errors.total,
        latency_edges=stable.latency_s.edges,
        latency_counts=stable.latency_s.counts,
        labelled=stable.labelled,
        correct=stable.correct,
        sampled=stats.features_sampled,
        features=features,
        predictions=predictions,
    )


class RouterMonitor:
    def __init__(self, poller: RouterReadings, store: ReferenceStore) -> None:
        self._poller = poller
        self._store = store
        # Per rollout: the revision watched, and its rounds, oldest first.
        self._snapshots: dict[tuple[str, str], tuple[str, deque[Snapshot]]] = {}
        self._references: dict[tuple[str, str], ModelReference] = {}

    async def observe(self, rollout: ModelRollout, request: MonitoringRequest, now: datetime) -> MonitoringObservation:
        key = (rollout.namespace, rollout.name)
        readings = await self._poller.read(rollout)
        failure = readings_failure(readings)
        if failure is not None:
            return MonitoringObservation(error=f"{rollout.namespace}/{rollout.name}: {failure}")
        revision, snapshots = self._snapshots.get(key, (None, None))
        if snapshots is None or revision != request.revision:
            # Another model's rounds: none of them may start a window of this one (its reference
            # would hold traffic the old model served).
            snapshots = deque(maxlen=_MAX_SNAPSHOTS)
            self._snapshots[key] = (request.revision, snapshots)
        current = Snapshot(now, {r.endpoint.key: r.body for r in readings})
        start = _start_snapshot(snapshots, request.window_start, _interval(rollout)) or current
        snapshots.append(current)
        _forget_older(snapshots, now - _horizon(rollout))
        now_stats = {r.endpoint.key: r.stats for r in readings if r.stats is not None}
        try:
            stats = window_stats(start.parsed() if start is not current else now_stats, now_stats, since=start.at)
        except (StatsMergeError, ValueError) as exc:
            return MonitoringObservation(error=f"router stats cannot be combined: {exc}")
        window = monitoring_window(stats, start.at, now)
        try:
            reference = await self._reference(rollout, request)
        except ReferenceUnavailable as exc:
            return MonitoringObservation(window=window, error=str(exc))
        return MonitoringObservation(window=window, reference=reference)

    async def _reference(self, rollout: ModelRollout, request: MonitoringRequest) -> ModelReference | None:
        key = (rollout.namespace, rollout.name)
        held = self._references.get(key)
        if request.baseline is not None:
            if held is None or held.source != "baseline":
                held = self._references[key] = await self._store.load_baseline(rollout, request.baseline)
            return held
        if held is not None and held.source == "live" and held.revision == request.revision:
            return held
        loaded = await self._store.load(rollout)
        if loaded is not None and loaded.revision == request.revision:
            self._references[key] = loaded
            return loaded
        return None

    async def save_reference(self, rollout: ModelRollout, action: SaveReference) -> None:
        await self._store.save(rollout, action.reference)
        self._references[(rollout.namespace, rollout.name)] = action.reference

    def forget(self, namespace: str, name: str) -> None:
        self._snapshots.pop((namespace, name), None)
        self._references.pop((namespace, name), None)


def _start_snapshot(snapshots: deque[Snapshot], start: datetime, interval: timedelta) -> Snapshot | None:
    """The newest snapshot taken by the window's start (with tolerance) but no more than one interval
    before it, else the oldest taken after it; None when there is none (the window is then empty).

    A round from long before the start (monitoring paused while a rollout ran) would bring all the
    traffic since then into the window."""
    by_start = [s for s in snapshots if start - interval - _START_TOLERANCE <= s.at <= start + _START_TOLERANCE]
    if by_start:
        return by_start[-1]
    return next((s for s in snapshots if s.at > start), None)


def _interval(rollout: ModelRollout) -> timedelta:
    spec = rollout.spec.monitoring
    return timedelta(seconds=spec.interval if spec is not None else 0.0)


def _horizon(rollout: ModelRollout) -> timedelta:
    spec = rollout.spec.monitoring
    if spec is None:
        return timedelta(0)
    longest = max(spec.window, spec.reference.capture_window if spec.reference.baseline is None else 0.0)
    return timedelta(seconds=longest + 2 * spec.interval)


def _forget_older(snapshots: deque[Snapshot], cutoff: datetime) -> None:
    # Keep one snapshot at or before the cutoff: it is the start of the longest window.
    while len(snapshots) > 1 and snapshots[1].at <= cutoff:
        snapshots.popleft()
