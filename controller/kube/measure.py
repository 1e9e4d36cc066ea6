"""The MetricProvider port in a cluster: router metrics from the routers' `/stats`, others by provider.

Router counters are cumulative, so a window's numbers are a difference: each poll is kept as
a snapshot per router pod, and a measurement over [window start, now] diffs every pod's
reading now against its reading in the last snapshot taken at or before the window start
(`router.stats.delta` treats a router restart as a reset), then sums the pods' differences.
Only a few recent snapshots per rollout are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.analysis.observations import MetricObservation
from controller.api.analysis import MetricSpec
from controller.api.resource import ModelRollout
from controller.engine.inputs import MeasurementRequest
from controller.kube.routers import RouterPoller, RouterReading
from controller.runtime.ports import MetricProvider
from router.errors import StatsMergeError
from router.stats import RouterStats, delta, merge

__all__ = ["StatsMapper", "Snapshot", "SnapshotHistory", "RouterStatsSource", "MetricRouter"]

# (metric, router stats over exactly the window, window start, now) -> observation;
# controller.providers.router_stats.observe_router_metric in production.
StatsMapper = Callable[[MetricSpec, RouterStats, datetime | None, datetime], MetricObservation]


@dataclass(frozen=True)
class Snapshot:
    """One complete round of readings: each pod's `/stats` JSON, as read."""

    at: datetime
    by_pod: dict[str, bytes]

    def parsed(self) -> dict[str, RouterStats]:
        return {pod: RouterStats.model_validate_json(body) for pod, body in self.by_pod.items()}


# A poll that started this soon after the window opened still counts as its start: the routers
# were asked in the same reconcile that confirmed the split.
SLACK = timedelta(milliseconds=500)


class SnapshotHistory:
    """Recent rounds of one rollout's readings, oldest first, at most `keep`."""

    def __init__(self, keep: int = 6) -> None:
        self._snapshots: deque[Snapshot] = deque(maxlen=keep)

    def add(self, snapshot: Snapshot) -> None:
        self._snapshots.append(snapshot)

    def latest(self) -> Snapshot | None:
        return self._snapshots[-1] if self._snapshots else None

    def baseline(self, window_start: datetime | None, before: datetime) -> Snapshot | None:
        """The newest snapshot taken by `window_start` (within `SLACK`), else the oldest one kept.

        Only snapshots older than `before` (the reading being measured) count; None means
        nothing older was kept, and the routers' counts since they started stand for the window.
        """
        older = [s for s in self._snapshots if s.at < before]
        if not older:
            return None
        if window_start is None:
            return older[0]
        started = [s for s in older if s.at <= window_start + SLACK]
        return started[-1] if started else older[0]

    def keep_only(self, *wanted: Snapshot | None) -> None:
        """Every window starts where the split came into force, so after a measurement only its
        baseline and the newest reading can serve the next one (a new split brings its own)."""
        kept = [s for s in self._snapshots if any(s is w for w in wanted)]
        self._snapshots = deque(kept, maxlen=self._snapshots.maxlen)


def window_stats(start: dict[str, RouterStats], now: dict[str, RouterStats]) -> RouterStats:
    """The fleet's counts between two rounds: per-pod differences, summed."""
    return merge([delta(start.get(pod), stats) for pod, stats in sorted(now.items())])


def _failure(readings: list[RouterReading]) -> str | None:
    if not readings:
        return "no ready router pods"
    failed = [r.error for r in readings if r.stats is None]
    return f"{len(failed)} of {len(readings)} routers unreadable: {failed[0]}" if failed else None


class RouterStatsSource:
    """Built-in router metrics; keeps a snapshot of every complete round of router readings."""

    def __init__(self, poller: RouterPoller, mapper: StatsMapper) -> None:
        self._poller = poller
        self._mapper = mapper
        self._history: dict[tuple[str, str], SnapshotHistory] = {}
        poller.add_listener(self._record)

    def _record(self, rollout: ModelRollout, at: datetime, readings: list[RouterReading]) -> None:
        if _failure(readings) is None:
            snapshot = Snapshot(at, {r.endpoint.key: r.body for r in readings})
            self._history.setdefault((rollout.namespace, rollout.name), SnapshotHistory()).add(snapshot)

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        name = request.metric.name
        readings = await self._poller.read(rollout)
        failure = _failure(readings)
        history = self._history.get((rollout.namespace, rollout.name))
        current = history.latest() if history is not None else None
        if failure is not None or history is None or current is None:
            why = f"{rollout.namespace}/{rollout.name}: {failure or 'no router readings'}"
            return MetricObservation(metric=name, error=why, window_start=request.window_start, window_end=now)
        start = history.baseline(request.window_start, current.at)
        history.keep_only(start, current)
        now_stats = {r.endpoint.key: r.stats for r in readings if r.stats is not None}
        try:
            stats = window_stats(start.parsed() if start is not None else {}, now_stats)
        except (StatsMergeError, ValueError) as exc:
            return MetricObservation(metric=name, error=f"router stats cannot be combined: {exc}", window_end=now)
        return self._mapper(request.metric, stats, start.at if start is not None else None, now)

    def forget(self, namespace: str, name: str) -> None:
        self._history.pop((namespace, name), None)


class MetricRouter:
    """Sends each measurement to the provider for its metric's source."""

    def __init__(self, router: MetricProvider, prometheus: MetricProvider, webhook: MetricProvider) -> None:
        self._providers = {"router": router, "prometheus": prometheus, "webhook": webhook}

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        return await self._providers[request.metric.source_kind].measure(rollout, request, now)
