"""The decision bench reads its synthetic windows exactly as the controller's router-stats adapter reads /stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.decision_streams import BASE, ROUTER_METRICS, Behaviour, Stream, regressed
from controller.api.metrics import MetricSpec, RouterMetric
from controller.api.status import TrafficSplit
from controller.engine.inputs import MeasurementRequest
from controller.providers.router_stats import observe_router_metric

START = datetime(2024, 6, 1, 12, tzinfo=UTC)
SPLITS = [
    TrafficSplit(stable=100, candidate=0, mirror=100),
    TrafficSplit(stable=100, candidate=0, mirror=30),
    TrafficSplit(stable=90, candidate=10, mirror=0),
    TrafficSplit(stable=0, candidate=100, mirror=0),
]


def _spec(metric: RouterMetric) -> MetricSpec:
    judgement = {"max": 1.0} if metric is not RouterMetric.PREDICTION_DRIFT else {"max": 0.25}
    return MetricSpec.model_validate({"name": "m", "router": {"metric": metric.value}, **judgement})


# Worse everywhere; and so slow that latencies overflow the last bucket (60 s).
WORSE = regressed(error_rate=0.2, latency_factor=1.3, agreement=0.9, drift_psi=0.3, accuracy=0.8)
STALLED = regressed(latency_factor=1200.0)


@pytest.mark.parametrize("candidate", [WORSE, STALLED], ids=["worse", "stalled"])
@pytest.mark.parametrize("split", SPLITS, ids=lambda s: f"{s.stable}-{s.candidate}-{s.mirror}")
@pytest.mark.parametrize("rps", [0.05, 3.0, 40.0])
def test_every_reading_equals_the_adapters_on_the_same_counts(split: TrafficSplit, rps: float, candidate: Behaviour) -> None:
    stream = Stream(rng=np.random.default_rng(7), rps=rps, candidate=candidate)
    specs = [_spec(metric) for metric in sorted(ROUTER_METRICS)]
    # Looks of growing windows, each reading some metrics first so the rest are drawn later, as in a rollout.
    for look in range(1, 6):
        now = START + timedelta(seconds=30 * look)
        read = specs[look % 3 :: 2]
        observed = stream.observe([MeasurementRequest(scope="s", metric=m, window_start=START) for m in read], split, now)
        stats = stream.windows[START].router_stats()
        for spec in specs:
            (ours,) = stream.observe([MeasurementRequest(scope="s", metric=spec, window_start=START)], split, now)
            assert ours == observe_router_metric(spec, stats, START, now), spec.router
        assert all(o == observe_router_metric(s, stats, START, now) for s, o in zip(read, observed))


def test_the_bench_reads_every_router_metric_but_the_request_rate() -> None:
    assert ROUTER_METRICS == frozenset(RouterMetric) - {RouterMetric.REQUEST_RATE}


def test_a_look_sees_what_the_last_one_saw_plus_what_came_since() -> None:
    stream = Stream(rng=np.random.default_rng(3), rps=20.0, candidate=BASE)
    spec = _spec(RouterMetric.ERROR_RATE)
    split = TrafficSplit(stable=50, candidate=50, mirror=0)
    counts = []
    for look in range(1, 5):
        request = MeasurementRequest(scope="s", metric=spec, window_start=START)
        (observation,) = stream.observe([request], split, START + timedelta(minutes=look))
        assert observation.candidate is not None
        counts.append((observation.candidate.count, observation.candidate.successes))
    assert all(later[0] > earlier[0] and later[1] >= earlier[1] for earlier, later in zip(counts, counts[1:]))
    assert 4 * 60 * 10 * 0.8 < counts[-1][0] < 4 * 60 * 10 * 1.2
