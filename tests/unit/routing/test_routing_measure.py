"""Windows over cumulative router counters: per-pod differences from a baseline inside the window, restarts as resets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from controller.analysis.judge import judge
from controller.analysis.observations import MetricObservation
from controller.api.metrics import MetricSpec
from controller.api.resource import ModelRollout
from controller.api.status import Verdict
from controller.engine.inputs import MeasurementRequest
from controller.providers.router_stats import observe_router_metric
from controller.routing.measure import RouterStatsSource, Snapshot, SnapshotHistory, window_stats
from controller.routing.polling import ReadingsListener, RouterEndpoint, RouterReading
from router.stats import ErrorCounts, RouterStats, VariantStats

RolloutFactory = Callable[..., ModelRollout]

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _stats(instance: str, stable: int, candidate: int, errors: int = 0) -> RouterStats:
    return RouterStats(
        instance_id=instance,
        started_at=T0,
        generation=3,
        stable=VariantStats(requests=stable),
        candidate=VariantStats(requests=candidate, errors=ErrorCounts.model_validate({"status5xx": errors})),
    )


def _snapshot(seconds: float, **pods: RouterStats) -> Snapshot:
    return Snapshot(T0 + timedelta(seconds=seconds), {pod: s.model_dump_json(by_alias=True).encode() for pod, s in pods.items()})


def test_a_window_sums_each_pods_difference() -> None:
    start = {"a": _stats("a-1", 100, 10, 1), "b": _stats("b-1", 50, 5)}
    now = {"a": _stats("a-1", 160, 22, 4), "b": _stats("b-1", 90, 9)}
    window = window_stats(start, now)
    assert (window.stable.requests, window.candidate.requests, window.candidate.errors.total) == (100, 16, 3)


def test_a_restarted_router_counts_from_zero_and_a_new_pod_in_full() -> None:
    start = {"a": _stats("a-1", 100, 10, 5)}
    now = {"a": _stats("a-2", 30, 3, 1), "c": _stats("c-1", 7, 2)}
    window = window_stats(start, now)
    assert (window.stable.requests, window.candidate.requests, window.candidate.errors.total) == (37, 5, 1)


def test_the_baseline_is_the_last_reading_by_the_window_start() -> None:
    history = SnapshotHistory()
    for seconds in (0, 10, 20.3, 40):
        history.add(_snapshot(seconds, a=_stats("a", int(seconds), 0)))
    window_start = T0 + timedelta(seconds=20)
    baseline = history.baseline(window_start, before=T0 + timedelta(seconds=40))
    assert baseline is not None and baseline.at == T0 + timedelta(seconds=20.3)  # within the slack of the start
    assert baseline.parsed()["a"].stable.requests == 20


def test_without_a_reading_that_old_the_oldest_kept_one_serves() -> None:
    history = SnapshotHistory()
    history.add(_snapshot(30, a=_stats("a", 30, 0)))
    history.add(_snapshot(60, a=_stats("a", 60, 0)))
    baseline = history.baseline(T0, before=T0 + timedelta(seconds=60))
    assert baseline is not None and baseline.at == T0 + timedelta(seconds=30)
    assert history.baseline(T0, before=T0 + timedelta(seconds=30)) is None


def test_after_a_measurement_only_its_baseline_and_the_newest_reading_stay() -> None:
    history = SnapshotHistory()
    snapshots = [_snapshot(s, a=_stats("a", s, 0)) for s in (0, 10, 20, 30)]
    for snapshot in snapshots:
        history.add(snapshot)
    history.keep_only(snapshots[1], snapshots[3])
    assert history.baseline(T0 + timedelta(seconds=10), before=T0 + timedelta(seconds=30)) is snapshots[1]
    assert history.latest() is snapshots[3]


def test_a_snapshot_taken_before_the_window_beyond_the_slack_is_no_baseline() -> None:
    """Diffing from it would count the traffic between it and the window's start: an earlier split's."""
    history = SnapshotHistory()
    history.add(_snapshot(-30, a=_stats("a", 0, 0)))
    history.add(_snapshot(60, a=_stats("a", 60, 0)))
    assert history.baseline(T0, before=T0 + timedelta(seconds=60)) is None
    history.add(_snapshot(-0.4, a=_stats("a", 30, 0)))  # just before the start, within the slack: it is the start
    baseline = history.baseline(T0, before=T0 + timedelta(seconds=60))
    assert baseline is not None and baseline.at == T0 - timedelta(seconds=0.4)


def test_with_no_reading_by_the_start_the_oldest_one_after_it_is_the_baseline() -> None:
    history = SnapshotHistory()
    for seconds in (-30, 12, 20, 40):
        history.add(_snapshot(seconds, a=_stats("a", int(seconds) + 30, 0)))
    baseline = history.baseline(T0, before=T0 + timedelta(seconds=40))
    assert baseline is not None and baseline.at == T0 + timedelta(seconds=12)


# --- measuring through RouterStatsSource, with router stats a test scripts -------------------

SHADOW_ERRORS = {"name": "shadow-errors", "router": {"metric": "shadowErrorRate"}, "maxIncrease": {"absolute": 0.01}}


class ScriptedRouters:
    """Stands in for `RouterPoller`: each read returns the stats the test set, at the test's clock."""

    def __init__(self) -> None:
        self.now = T0
        self.pods: dict[str, RouterStats] = {}
        self._listeners: list[ReadingsListener] = []

    def add_listener(self, listener: ReadingsListener) -> None:
        self._listeners.append(listener)

    async def read(self, rollout: ModelRollout) -> list[RouterReading]:
        readings = [
            RouterReading(RouterEndpoint(pod, f"http://{pod}:9090"), stats, body=stats.model_dump_json(by_alias=True).encode())
            for pod, stats in sorted(self.pods.items())
        ]
        for listener in self._listeners:
            listener(rollout, self.now, readings)
        return readings


def _shadowing(instance: str, stable: int, shadow: int, shadow_errors: int) -> RouterStats:
    """A router mirroring to the shadow: counts since it started, per variant (not per revision)."""
    errors = ErrorCounts.model_validate({"status5xx": shadow_errors})
    return RouterStats(
        instance_id=instance, started_at=T0 - timedelta(minutes=10), generation=7,
        stable=VariantStats(requests=stable), shadow=VariantStats(requests=shadow, errors=errors),
    )  # fmt: skip


def _source(routers: ScriptedRouters) -> RouterStatsSource:
    return RouterStatsSource(routers, observe_router_metric)


async def _measure(
    source: RouterStatsSource, routers: ScriptedRouters, rollout: ModelRollout, metric: MetricSpec, window_start: datetime
) -> MetricObservation:
    request = MeasurementRequest(scope="shadow", metric=metric, window_start=window_start)
    return await source.measure(rollout, request, routers.now)


@pytest.mark.anyio
@pytest.mark.parametrize("min_samples", [50, 0])
async def test_the_first_reading_after_a_restart_is_only_a_baseline_never_the_routers_totals(
    make_rollout: RolloutFactory, min_samples: int
) -> None:
    """The routers' totals since they started hold an earlier bad candidate's 22 shadow errors; a
    controller that restarts mid-window has no reading from the window's start to diff against."""
    metric = MetricSpec.model_validate({**SHADOW_ERRORS, "minSamples": min_samples})
    routers = ScriptedRouters()
    window_start = T0  # the split to the current candidate was confirmed here, by the controller before
    routers.now = T0 + timedelta(seconds=37)  # the restarted controller's first measurement
    routers.pods = {"r-0": _shadowing("r-0", 1269, 1269, 22)}
    observation = await _measure(_source(routers), routers, make_rollout(), metric, window_start)

    assert observation.error is None  # the routers answered: not a provider error
    assert (observation.window_start, observation.window_end) == (routers.now, routers.now)
    assert observation.candidate is not None and observation.stable is not None
    assert (observation.candidate.count, observation.candidate.successes, observation.stable.count) == (0, 0, 0)
    result = judge(metric, observation)
    assert result.verdict is Verdict.INCONCLUSIVE, result.reason


@pytest.mark.anyio
async def test_after_the_baseline_a_measurement_counts_only_the_traffic_since_it(make_rollout: RolloutFactory) -> None:
    metric = MetricSpec.model_validate({**SHADOW_ERRORS, "minSamples": 100})
    routers, rollout = ScriptedRouters(), make_rollout()
    source = _source(routers)
    routers.now, routers.pods = T0 + timedelta(seconds=37), {"r-0": _shadowing("r-0", 1269, 1269, 22)}
    baseline_at = routers.now
    await _measure(source, routers, rollout, metric, T0)

    routers.now, routers.pods = baseline_at + timedelta(seconds=5), {"r-0": _shadowing("r-0", 1419, 1419, 22)}
    observation = await _measure(source, routers, rollout, metric, T0)

    assert observation.candidate is not None and observation.stable is not None
    assert (observation.candidate.count, observation.candidate.successes, observation.stable.count) == (150, 0, 150)
    assert (observation.window_start, observation.window_end) == (baseline_at, baseline_at + timedelta(seconds=5))
    assert judge(metric, observation).verdict is Verdict.PASSED


@pytest.mark.anyio
async def test_a_reading_from_before_the_window_is_not_diffed_against(make_rollout: RolloutFactory) -> None:
    """A controller that led before, lost the Lease and took it back keeps readings from an earlier
    split; the traffic between them and the window's start is not the window's."""
    metric = MetricSpec.model_validate({**SHADOW_ERRORS, "minSamples": 0})
    routers, rollout = ScriptedRouters(), make_rollout()
    source = _source(routers)
    routers.now, routers.pods = T0 - timedelta(seconds=90), {"r-0": _shadowing("r-0", 100, 100, 0)}
    await routers.read(rollout)  # the earlier split: the bad candidate starts failing after this
    routers.now, routers.pods = T0 + timedelta(seconds=20), {"r-0": _shadowing("r-0", 1269, 1269, 22)}
    observation = await _measure(source, routers, rollout, metric, T0)

    assert observation.candidate is not None and observation.candidate.count == 0
    assert observation.window_start == routers.now
    assert judge(metric, observation).verdict is Verdict.INCONCLUSIVE


@pytest.mark.anyio
async def test_a_window_whose_first_kept_reading_came_after_its_start_says_it_began_there(make_rollout: RolloutFactory) -> None:
    metric = MetricSpec.model_validate({**SHADOW_ERRORS, "minSamples": 0})
    routers, rollout = ScriptedRouters(), make_rollout()
    source = _source(routers)
    routers.now, routers.pods = T0 + timedelta(seconds=8), {"r-0": _shadowing("r-0", 500, 500, 3)}
    await routers.read(rollout)  # a poll some seconds into the window (nothing nearer its start was kept)
    routers.now, routers.pods = T0 + timedelta(seconds=30), {"r-0": _shadowing("r-0", 800, 800, 4)}
    observation = await _measure(source, routers, rollout, metric, T0)

    assert observation.candidate is not None and (observation.candidate.count, observation.candidate.successes) == (300, 1)
    assert (observation.window_start, observation.window_end) == (T0 + timedelta(seconds=8), T0 + timedelta(seconds=30))


@pytest.mark.anyio
async def test_every_metric_of_a_reconcile_after_a_restart_is_a_baseline_alike(make_rollout: RolloutFactory) -> None:
    """The first metric's measurement keeps the new reading; the second must not take it as its baseline
    and measure an empty window as data either, nor fall back to older counts."""
    routers, rollout = ScriptedRouters(), make_rollout()
    source = _source(routers)
    routers.now, routers.pods = T0 + timedelta(seconds=37), {"r-0": _shadowing("r-0", 1269, 1269, 22)}
    errors = MetricSpec.model_validate({**SHADOW_ERRORS, "minSamples": 0})
    rate = MetricSpec.model_validate({"name": "rate", "router": {"metric": "requestRate"}, "min": 1, "minSamples": 0})
    first, second = [await _measure(source, routers, rollout, m, T0) for m in (errors, rate)]
    assert [o.window_start for o in (first, second)] == [routers.now, routers.now]
    assert second.candidate is not None and (second.candidate.count, second.candidate.value) == (0, None)
    assert judge(rate, second).verdict is Verdict.INCONCLUSIVE


def test_a_router_missing_from_the_baseline_counts_only_if_it_started_after_it() -> None:
    """A router that was not ready (or not yet listed) at the baseline has counts from before it."""
    baseline_at = T0 + timedelta(seconds=60)
    start = {"a": _stats("a-1", 100, 10)}
    ran_before = _stats("b-1", 400, 40, 9)  # started at T0, a minute before the baseline
    started_after = _stats("c-1", 7, 2).model_copy(update={"started_at": baseline_at + timedelta(seconds=3)})
    now = {"a": _stats("a-1", 130, 13), "b": ran_before, "c": started_after}
    window = window_stats(start, now, since=baseline_at)
    assert (window.stable.requests, window.candidate.requests, window.candidate.errors.total) == (37, 5, 0)
    restarted = {"a": _stats("a-2", 5, 1).model_copy(update={"started_at": baseline_at + timedelta(seconds=1)})}
    assert window_stats(start, restarted, since=baseline_at).stable.requests == 5  # restarted after: all in the window
    alone = window_stats({}, {"b": ran_before}, since=baseline_at)
    assert (alone.stable.requests, alone.candidate.requests) == (0, 0)  # nothing known of the window: empty, not an error
