"""The MetricProvider port in a cluster: router metrics from the routers' `/stats`, others by provider.

Router counters are cumulative, so a window's numbers are a difference: each poll is kept as
a snapshot per router pod, and a measurement over [window start, now] diffs every pod's
reading now against its reading in a baseline snapshot (`router.stats.delta` treats a router
restart as a reset), then sums the pods' differences. Only a few recent snapshots per rollout
are kept.

A measurement never counts traffic from before its window. The routers count per variant, not
per revision, so their totals since they started mix in every earlier candidate (a good one was
rolled back for the errors of the bad one before it). The baseline is therefore a snapshot
taken at the window's start (within `SLACK`), else the oldest one taken after it, and the
evidence says the window began there. When no snapshot qualifies (a controller that restarted
or took over the Lease mid-window has none), the reading now can only be the next one's
baseline: the measurement is an empty window, zero samples, which the judges call Inconclusive
(too little data), neither an Error (provider down) nor a Failure.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from controller.analysis.observations import MetricObservation
from controller.api.metrics import MetricSpec
from controller.api.resource import ModelRollout
from controller.engine.inputs import MeasurementRequest, PredictionsReading
from controller.engine.predictions import mostly_unreadable
from controller.routing.polling import ReadingsListener, RouterReading
from controller.runtime.ports import MetricProvider
from router.stats import RouterStats, StatsMergeError, delta, merge

__all__ = [
    "StatsMapper",
    "Snapshot",
    "SnapshotHistory",
    "RouterReadings",
    "RouterStatsSource",
    "MetricRouter",
    "PredictionsWatch",
    "predictions_reading",
    "readings_failure",
    "window_stats",
]

log = logging.getLogger(__name__)

# (metric, router stats over exactly the window, window start, window end) -> observation;
# controller.providers.router_stats.observe_router_metric in production.
StatsMapper = Callable[[MetricSpec, RouterStats, datetime | None, datetime], MetricObservation]


@dataclass(frozen=True)
class Snapshot:
    """One complete round of readings: each pod's `/stats` JSON, as read."""

    at: datetime
    by_pod: dict[str, bytes]

    def parsed(self) -> dict[str, RouterStats]:
        return {pod: RouterStats.model_validate_json(body) for pod, body in self.by_pod.items()}


# A poll this close to the window's start, either side, counts as taken at the start: the routers
# were asked in the reconcile that confirmed the split (a reading shared from up to the poller's
# `reuse_s` earlier, or one begun just after the reconcile's clock reading).
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
        """The snapshot a window opening at `window_start` is measured from, or None if none may be.

        Only snapshots older than `before` (the reading being measured) count, and none taken
        more than `SLACK` before the window's start: diffing from one would count traffic from
        before the window. Of the rest, the newest taken by the start (within `SLACK`), else the
        oldest: the measured window then starts later than asked, at that snapshot.
        """
        older = [s for s in self._snapshots if s.at < before]
        if window_start is None:
            return older[0] if older else None
        valid = [s for s in older if s.at >= window_start - SLACK]
        started = [s for s in valid if s.at <= window_start + SLACK]
        return started[-1] if started else (valid[0] if valid else None)

    def keep_only(self, *wanted: Snapshot | None) -> None:
        """Every window starts where the split came into force, so after a measurement only its
        baseline and the newest reading can serve the next one (a new split brings its own)."""
        kept = [s for s in self._snapshots if any(s is w for w in wanted)]
        self._snapshots = deque(kept, maxlen=self._snapshots.maxlen)


def window_stats(start: dict[str, RouterStats], now: dict[str, RouterStats], since: datetime | None = None) -> RouterStats:
    """The fleet's counts between two rounds: per-pod differences, summed.

    A pod with no reading in `start` under its current instance counts in full, from when it
    started; with `since` (the baseline's time), only if it started after then. One that ran
    before (not ready, or not yet listed, at the baseline) would bring traffic from before the
    window, so it is left out until a baseline holds it.
    """
    counted = [
        delta(start.get(pod), stats)
        for pod, stats in sorted(now.items())
        if since is None or _has_baseline(start.get(pod), stats) or stats.started_at >= since - SLACK
    ]
    if not counted and now:  # no pod's window is known: an empty window, not a failure to combine
        counted = [delta(stats, stats) for _pod, stats in sorted(now.items())[:1]]
    return merge(counted)


def _has_baseline(before: RouterStats | None, after: RouterStats) -> bool:
    return before is not None and before.instance_id == after.instance_id


def readings_failure(readings: list[RouterReading]) -> str | None:
    """Why a round of readings cannot be measured from (no router, or one unreadable); None when it can."""
    if not readings:
        return "no ready router pods"
    failed = [r.error for r in readings if r.stats is None]
    return f"{len(failed)} of {len(readings)} routers unreadable: {failed[0]}" if failed else None


class RouterReadings(Protocol):
    """What measuring needs of `routers.RouterPoller`: a round of readings, and word of every round."""

    def add_listener(self, listener: ReadingsListener) -> None: ...

    async def read(self, rollout: ModelRollout) -> list[RouterReading]: ...


class RouterStatsSource:
    """Built-in router metrics; keeps a snapshot of every complete round of router readings."""

    def __init__(self, poller: RouterReadings, mapper: StatsMapper) -> None:
        self._poller = poller
        self._mapper = mapper
        self._history: dict[tuple[str, str], SnapshotHistory] = {}
        poller.add_listener(self._record)

    def _record(self, rollout: ModelRollout, at: datetime, readings: list[RouterReading]) -> None:
        if readings_failure(readings) is None:
            snapshot = Snapshot(at, {r.endpoint.key: r.body for r in readings})
            self._history.setdefault((rollout.namespace, rollout.name), SnapshotHistory()).add(snapshot)

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        name = request.metric.name
        readings = await self._poller.read(rollout)
        failure = readings_failure(readings)
        history = self._history.get((rollout.namespace, rollout.name))
        current = history.latest() if history is not None else None
        if failure is not None or history is None or current is None:
            why = f"{rollout.namespace}/{rollout.name}: {failure or 'no router readings'}"
            return MetricObservation(metric=name, error=why, window_start=request.window_start, window_end=now)
        start = history.baseline(request.window_start, current.at)
        history.keep_only(start, current)
        now_stats = {r.endpoint.key: r.stats for r in readings if r.stats is not None}
        if start is None:
            # Nothing measured yet can serve as this window's start: this reading is the next
            # measurement's baseline, and this one is an empty window at it (zero samples).
            log.info("%s/%s: %s: no router reading from the window's start (%s) is kept; this reading at %s is the baseline",
                     rollout.namespace, rollout.name, name, request.window_start, current.at)  # fmt: skip
            start = current
        try:
            stats = window_stats(start.parsed() if start is not current else now_stats, now_stats, since=start.at)
        except (StatsMergeError, ValueError) as exc:
            return MetricObservation(metric=name, error=f"router stats cannot be combined: {exc}", window_end=now)
        # The window is what was diffed: from the baseline's reading to this one.
        return self._mapper(request.metric, stats, start.at, current.at)

    def forget(self, namespace: str, name: str) -> None:
        self._history.pop((namespace, name), None)


class MetricRouter:
    """Sends each measurement to the provider for its metric's source."""

    def __init__(self, router: MetricProvider, prometheus: MetricProvider, webhook: MetricProvider) -> None:
        self._providers = {"router": router, "prometheus": prometheus, "webhook": webhook}

    async def measure(self, rollout: ModelRollout, request: MeasurementRequest, now: datetime) -> MetricObservation:
        return await self._providers[request.metric.source_kind].measure(rollout, request, now)


_VARIANTS = ("stable", "candidate", "shadow")
# One pod's reading, as little of it as judging readability needs: instance, start, and per
# variant (answers read, answers not read). Kept per rollout between two rounds, so it stays small.
_Tally = tuple[str, datetime, dict[str, tuple[int, int]]]


def _tally(stats: RouterStats) -> _Tally:
    counts = {name: (getattr(stats, name).analysed, getattr(stats, name).not_analysed) for name in _VARIANTS}
    return stats.instance_id, stats.started_at, counts


def predictions_reading(
    before: dict[str, _Tally], now: dict[str, _Tally], since: datetime, sample: str | None
) -> PredictionsReading | None:
    """What the routers read between two rounds: the variant most of whose answers went unread,
    else the one with the most answers; None when nothing was answered.

    A pod restarted since `before` counts in full only if it started after `since` (its counts
    are all new); one not yet read at `before` that ran earlier would bring older answers.
    """
    totals = dict.fromkeys(_VARIANTS, (0, 0))
    for pod, (instance, started, counts) in now.items():
        previous = before.get(pod)
        if previous is not None and previous[0] == instance:
            base = previous[2]
        elif started >= since - SLACK:
            base = dict.fromkeys(_VARIANTS, (0, 0))
        else:
            continue
        for name in _VARIANTS:
            read, unread = counts[name][0] - base[name][0], counts[name][1] - base[name][1]
            totals[name] = (totals[name][0] + max(read, 0), totals[name][1] + max(unread, 0))
    readings = [
        PredictionsReading(variant=name, answers=read + unread, unreadable=unread, sample=sample)
        for name, (read, unread) in totals.items()
    ]
    worst = [r for r in readings if mostly_unreadable(r)]
    busiest = max(readings, key=lambda r: r.answers)
    chosen = worst[0] if worst else busiest
    return chosen if chosen.answers > 0 else None


class PredictionsWatch:
    """Whether the routers can read the answers under the protocol setting, from every round of
    readings: the last two rounds give what was read in between (`Observations.predictions`)."""

    def __init__(self, poller: RouterReadings) -> None:
        self._poller = poller
        self._last: dict[tuple[str, str], tuple[datetime, dict[str, _Tally]]] = {}
        self._readings: dict[tuple[str, str], PredictionsReading | None] = {}
        poller.add_listener(self._record)

    def _record(self, rollout: ModelRollout, at: datetime, readings: list[RouterReading]) -> None:
        if readings_failure(readings) is not None:
            return
        key = (rollout.namespace, rollout.name)
        now = {r.endpoint.key: _tally(r.stats) for r in readings if r.stats is not None}
        sample = next((r.stats.unreadable_sample for r in readings if r.stats is not None and r.stats.unreadable_sample), None)
        previous = self._last.get(key)
        self._last[key] = (at, now)
        self._readings[key] = predictions_reading(previous[1], now, previous[0], sample) if previous is not None else None

    def reading(self, rollout: ModelRollout) -> PredictionsReading | None:
        """What the routers read between the last two rounds; None before two rounds or with no answers."""
        return self._readings.get((rollout.namespace, rollout.name))

    async def observe(self, rollout: ModelRollout) -> PredictionsReading | None:
        """`reading` as of a round of this reconcile: the poller shares the round the reconcile reads
        anyway, so a confirmed split with no measurement due still brings a fresh reading."""
        await self._poller.read(rollout)
        return self.reading(rollout)

    def forget(self, namespace: str, name: str) -> None:
        self._last.pop((namespace, name), None)
        self._readings.pop((namespace, name), None)
