"""`/stats` snapshots: merging replicas, diffing polls, restarts never giving negative counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.compare import Comparison
from router.errors import StatsMergeError
from router.measure import Measurements
from router.stats import LATENCY_BUCKETS_S, RouterStats, delta, merge

START = datetime(2026, 1, 1, tzinfo=UTC)
BINS = (0.0, 0.5, 1.0)


def traffic(measurements: Measurements, stable: int, candidate: int, shadow_agreed: int = 0) -> None:
    for _ in range(stable):
        measurements.variants["stable"].observe(200, 0.004)
        measurements.variants["stable"].predicted([0.7])
    for n in range(candidate):
        counters = measurements.variants["candidate"]
        counters.observe(503, 0.03) if n % 2 else counters.fail("timeout", 30.0)
        counters.predicted(["cat"])
    for _ in range(shadow_agreed):
        measurements.compared_with_shadow(Comparison(True, 0.0))


def snapshot(measurements: Measurements, instance: str = "a", generation: int | None = 3) -> RouterStats:
    return measurements.snapshot(instance, START, generation)


def test_a_snapshot_counts_what_happened() -> None:
    measurements = Measurements(BINS, max_labels=10)
    traffic(measurements, stable=5, candidate=4, shadow_agreed=2)
    stats = snapshot(measurements)
    assert stats.stable.requests == 5 and stats.stable.predictions is not None
    assert stats.stable.predictions.counts == (0, 0, 5, 0)
    assert stats.stable.latency_s.total == 5
    assert (stats.candidate.errors.status_5xx, stats.candidate.errors.timeout, stats.candidate.errors.total) == (2, 2, 4)
    assert stats.candidate.labels == {"cat": 4}
    # le buckets: 30 s lands in (10, 30], 0.03 s in (0.02, 0.05]
    assert stats.candidate.latency_s.counts[LATENCY_BUCKETS_S.index(30.0)] == 2
    assert stats.candidate.latency_s.counts[LATENCY_BUCKETS_S.index(0.05)] == 2
    assert (stats.shadow_comparison.compared, stats.shadow_comparison.agreed) == (2, 2)


def test_the_wire_form_is_camel_case_and_round_trips() -> None:
    measurements = Measurements(BINS, max_labels=10)
    traffic(measurements, stable=2, candidate=2)
    stats = snapshot(measurements)
    wire = json.loads(stats.model_dump_json(by_alias=True))
    assert {"instanceId", "startedAt", "configErrors", "shadowComparison"} <= set(wire)
    assert wire["candidate"]["errors"]["status5xx"] == 1
    assert "latencyS" in wire["stable"] and "notAnalysed" in wire["stable"]
    assert RouterStats.model_validate_json(json.dumps(wire)) == stats


def test_merge_sums_replicas() -> None:
    one, two = Measurements(BINS, 10), Measurements(BINS, 10)
    traffic(one, stable=3, candidate=2, shadow_agreed=1)
    traffic(two, stable=4, candidate=6, shadow_agreed=5)
    two.variants["candidate"].predicted(["dog"])
    merged = merge([snapshot(one, "a", 4), snapshot(two, "b", 3)])
    assert merged.stable.requests == 7 and merged.candidate.requests == 8
    assert merged.candidate.labels == {"cat": 8, "dog": 1}
    assert merged.stable.predictions is not None and merged.stable.predictions.counts == (0, 0, 7, 0)
    assert merged.shadow_comparison.agreed == 6
    assert merged.generation == 3
    assert merged.instance_id == "a+b"


def test_merge_refuses_histograms_on_different_bins_and_names_them() -> None:
    one, two = Measurements(BINS, 10), Measurements((0.0, 1.0), 10)
    with pytest.raises(StatsMergeError, match=r"stable\.predictions: edges"):
        merge([snapshot(one, "a"), snapshot(two, "b")])
    with pytest.raises(StatsMergeError, match="at least one"):
        merge([])


def test_merge_of_a_replica_without_config_has_no_generation() -> None:
    assert merge([snapshot(Measurements(BINS, 10), "a", 3), snapshot(Measurements(BINS, 10), "b", None)]).generation is None


def test_delta_is_what_happened_between_polls() -> None:
    measurements = Measurements(BINS, 10)
    traffic(measurements, stable=3, candidate=2)
    before = snapshot(measurements, generation=3)
    traffic(measurements, stable=5, candidate=4, shadow_agreed=1)
    after = snapshot(measurements, generation=4)
    change = delta(before, after)
    assert change.stable.requests == 5 and change.candidate.requests == 4
    assert change.candidate.labels == {"cat": 4}
    assert change.shadow_comparison.compared == 1
    assert change.stable.latency_s.total == 5
    assert change.generation == 4


def test_a_restart_between_polls_counts_everything_after_it_as_new() -> None:
    old = Measurements(BINS, 10)
    traffic(old, stable=50, candidate=10)
    fresh = Measurements(BINS, 10)
    traffic(fresh, stable=2, candidate=1)
    change = delta(snapshot(old, "old"), snapshot(fresh, "new"))
    assert change.stable.requests == 2 and change.candidate.requests == 1
    assert delta(None, snapshot(fresh, "new")) == snapshot(fresh, "new")


def test_changed_bins_within_one_process_count_as_a_reset_of_that_histogram() -> None:
    measurements = Measurements(BINS, 10)
    traffic(measurements, stable=3, candidate=0)
    before = snapshot(measurements)
    measurements.rebin((0.0, 0.25, 0.75, 1.0), 10)
    traffic(measurements, stable=2, candidate=0)
    change = delta(before, snapshot(measurements))
    assert change.stable.requests == 2
    assert change.stable.predictions is not None and change.stable.predictions.total == 2


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.booleans()), min_size=1, max_size=8))
def test_deltas_of_polls_add_up_and_are_never_negative(rounds: list[tuple[int, int, bool]]) -> None:
    measurements, instance, previous = Measurements(BINS, 10), "i0", None
    served = 0
    for index, (stable, candidate, restart) in enumerate(rounds):
        if restart:
            measurements, instance = Measurements(BINS, 10), f"i{index + 1}"
        traffic(measurements, stable, candidate)
        current = snapshot(measurements, instance)
        change = delta(previous, current)
        assert change.stable.requests == stable
        assert all(count >= 0 for count in change.stable.latency_s.counts)
        served += change.stable.requests
        previous = current
    assert served == sum(stable for stable, _, _ in rounds)


def test_labels_beyond_the_limit_are_counted_together() -> None:
    measurements = Measurements(BINS, max_labels=2)
    measurements.variants["stable"].predicted(["a", "b", "c", "d", "a"])
    assert snapshot(measurements).stable.labels == {"a": 2, "b": 1, "__other__": 2}


def test_started_at_of_a_merge_is_the_earliest() -> None:
    early = Measurements(BINS, 10).snapshot("a", START, 1)
    late = Measurements(BINS, 10).snapshot("b", START + timedelta(hours=1), 1)
    assert merge([late, early]).started_at == START
