"""A realistic report of a canary rolled back for errors, built from explicit numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.api.status import AnalysisRecord, Verdict
from controller.local.report import RolloutReport, SeriesPoint, StepRecord
from controller.local.session import SessionOutcome

START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _series() -> list[SeriesPoint]:
    points = []
    for tick in range(12):
        t = at(5 * tick)
        share = 0.1 if tick < 6 else 0.3
        points.append(SeriesPoint(t=t, variant="stable", request_rate=50 * (1 - share), error_rate=0.0, p50_ms=8, p99_ms=21))
        points.append(SeriesPoint(t=t, variant="candidate", request_rate=50 * share, error_rate=0.02 * tick, p50_ms=9, p99_ms=24))
    return points


def _records() -> list[AnalysisRecord]:
    common = {"metric": "error-rate", "revision": "abc123", "statistic": "fisher", "threshold": 0.05}
    return [
        AnalysisRecord(**common, scope="step 1", verdict=Verdict.PASSED, reason="error rate 0.02 is below max 0.05",
                       time=at(20), candidate_samples=150, stable_samples=1350, candidate_value=0.02, stable_value=0.0),
        AnalysisRecord(**common, scope="background", verdict=Verdict.INCONCLUSIVE, reason="9 samples, need 10",
                       time=at(31), candidate_samples=9, stable_samples=80),
        AnalysisRecord(**common, scope="step 3", verdict=Verdict.FAILED, reason="error rate 0.18 is above max 0.05",
                       time=at(55), candidate_samples=450, stable_samples=1050, candidate_value=0.18, stable_value=0.0,
                       window_start=at(40), window_end=at(55), statistic_value=0.0004),
    ]


@pytest.fixture
def report() -> RolloutReport:
    steps = [
        StepRecord(index=0, kind="setWeight", description="send 10% of traffic to the candidate", started_at=at(0), finished_at=at(1)),
        StepRecord(index=1, kind="analysis", description="judge error-rate and latency-p99", started_at=at(1), finished_at=at(21)),
        StepRecord(index=2, kind="setWeight", description="send 30% of traffic to the candidate", started_at=at(30), finished_at=at(31)),
        StepRecord(index=3, kind="analysis", description="judge error-rate again", started_at=at(31)),
    ]
    return RolloutReport(
        rollout="fraud-scorer",
        scenario="errors",
        outcome=SessionOutcome.ROLLED_BACK,
        reason="error-rate failed 1 time (failureLimit 0): error rate 0.18 is above max 0.05",
        started_at=START,
        finished_at=at(60),
        steps=steps,
        analysis=_records(),
        series=_series(),
        router_stats={"variants": {"stable": {"requests": 2400}, "candidate": {"requests": 600, "errors": 70}}},
    )
