"""Windows over cumulative router counters: per-pod differences from the right baseline, restarts as resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.kube.measure import Snapshot, SnapshotHistory, window_stats
from router.stats import ErrorCounts, RouterStats, VariantStats

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
    assert history.baseline(T0 + timedelta(seconds=25), before=T0 + timedelta(seconds=30)) is snapshots[1]
    assert history.latest() is snapshots[3]
