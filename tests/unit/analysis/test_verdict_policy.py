"""apply_result: tallies and what each verdict means for the rollout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from controller.analysis.observations import AnalysisResult
from controller.analysis.policy import TallyOutcome, apply_result
from controller.api.metrics import MetricSpec
from controller.api.status import MetricTally, Verdict

MetricFactory = Callable[..., MetricSpec]

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _feed(spec: MetricSpec, verdicts: list[Verdict]) -> list[tuple[MetricTally, TallyOutcome]]:
    tally = MetricTally(metric=spec.name, scope="background")
    steps = []
    for minute, verdict in enumerate(verdicts):
        tally, outcome = apply_result(
            spec, tally, AnalysisResult(verdict=verdict, reason="r"), T0 + timedelta(minutes=minute)
        )
        steps.append((tally, outcome))
    return steps


def test_default_failure_limit_fails_on_the_first_failure(metric: MetricFactory) -> None:
    [(tally, outcome)] = _feed(metric(max=0.05), [Verdict.FAILED])
    assert outcome is TallyOutcome.FAILED
    assert tally.failed == 1


def test_failures_beyond_the_limit_fail_as_in_argo_rollouts(metric: MetricFactory) -> None:
    steps = _feed(metric(max=0.05, failureLimit=2), [Verdict.FAILED, Verdict.PASSED, Verdict.FAILED, Verdict.FAILED])
    assert [outcome for _, outcome in steps] == [TallyOutcome.PENDING, TallyOutcome.PASSED, TallyOutcome.PENDING, TallyOutcome.FAILED]
    assert steps[-1][0].failed == 3
    assert steps[-1][0].passed == 1


def test_held_errors_never_fail(metric: MetricFactory) -> None:
    steps = _feed(metric(max=0.05), [Verdict.ERROR] * 5)
    assert {outcome for _, outcome in steps} == {TallyOutcome.PENDING}
    tally = steps[-1][0]
    assert (tally.errors, tally.consecutive_errors, tally.failed) == (5, 5, 0)


def test_errors_count_as_failures_when_told_to(metric: MetricFactory) -> None:
    steps = _feed(metric(max=0.05, onProviderError="fail", failureLimit=1), [Verdict.ERROR, Verdict.ERROR])
    assert [outcome for _, outcome in steps] == [TallyOutcome.PENDING, TallyOutcome.FAILED]
    assert (steps[-1][0].errors, steps[-1][0].failed) == (2, 2)


def test_inconclusive_without_a_limit_holds_forever(metric: MetricFactory) -> None:
    steps = _feed(metric(max=0.05), [Verdict.INCONCLUSIVE] * 20)
    assert {outcome for _, outcome in steps} == {TallyOutcome.PENDING}
    assert steps[-1][0].consecutive_inconclusive == 20


def test_inconclusive_streak_beyond_the_limit_stalls_and_a_pass_restarts_it(metric: MetricFactory) -> None:
    spec = metric(max=0.05, inconclusiveLimit=2)
    verdicts = [
        Verdict.INCONCLUSIVE,
        Verdict.INCONCLUSIVE,
        Verdict.PASSED,
        Verdict.INCONCLUSIVE,
        Verdict.INCONCLUSIVE,
        Verdict.INCONCLUSIVE,
    ]
    steps = _feed(spec, verdicts)
    expected = [
        TallyOutcome.PENDING,
        TallyOutcome.PENDING,
        TallyOutcome.PASSED,
        TallyOutcome.PENDING,
        TallyOutcome.PENDING,
        TallyOutcome.STALLED,
    ]
    assert [outcome for _, outcome in steps] == expected
    assert [tally.consecutive_inconclusive for tally, _ in steps] == [1, 2, 0, 1, 2, 3]
    assert (steps[-1][0].inconclusive, steps[-1][0].failed) == (5, 0)


def test_any_other_verdict_ends_a_streak(metric: MetricFactory) -> None:
    steps = _feed(
        metric(max=0.05, failureLimit=5), [Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.ERROR, Verdict.FAILED]
    )
    assert [(t.consecutive_errors, t.consecutive_inconclusive) for t, _ in steps] == [(1, 0), (0, 1), (1, 0), (0, 0)]


def test_the_tally_is_a_new_value_stamped_with_the_time(metric: MetricFactory) -> None:
    spec = metric(max=0.05)
    before = MetricTally(metric="m", scope="step 2")
    after, _ = apply_result(spec, before, AnalysisResult(verdict=Verdict.PASSED, reason="ok"), T0)
    assert (before.passed, before.last_measured_at) == (0, None)
    assert (after.passed, after.last_measured_at, after.scope) == (1, T0, "step 2")


def test_a_tally_of_another_metric_is_refused(metric: MetricFactory) -> None:
    with pytest.raises(ValueError, match="tally is for metric 'latency', expected 'm'"):
        apply_result(
            metric(max=0.05),
            MetricTally(metric="latency", scope="s"),
            AnalysisResult(verdict=Verdict.PASSED, reason="ok"),
            T0,
        )
