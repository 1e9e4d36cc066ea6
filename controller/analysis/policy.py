"""Verdict policy: what one judged measurement means for a metric's tally and for the rollout.

`apply_result` counts the result into the metric's `MetricTally` and says what follows:

- PASSED   a good measurement.
- PENDING  measure again later: a Failed while failures are still within `failureLimit`, an
           Inconclusive within `inconclusiveLimit` (or with no limit), or an Error with
           `onProviderError: hold`.
- FAILED   failures now exceed `failureLimit`; the engine rolls back. An Error with
           `onProviderError: fail` counts as a failure.
- STALLED  consecutive Inconclusive results exceed `inconclusiveLimit`; the engine pauses for a
           person. Too little traffic is never a failure.

A metric with `dryRun: true` has its result counted like any other but is only ever PASSED or
PENDING: its verdicts are recorded, never acted on.

`failureLimit` follows Argo Rollouts: it is the number of failures tolerated, so the rollout
fails on failure number `failureLimit + 1` (`failures > failureLimit`); the default 0 fails
on the first. A streak counter (`consecutiveInconclusive`, `consecutiveErrors`) grows with its
own verdict and restarts at 0 on any other verdict, a Passed included.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from controller.analysis.observations import AnalysisResult
from controller.api.metrics import MetricSpec, ProviderErrorPolicy
from controller.api.status import MetricTally, Verdict

__all__ = ["TallyOutcome", "apply_result"]


class TallyOutcome(StrEnum):
    PASSED = "Passed"
    PENDING = "Pending"
    FAILED = "Failed"
    STALLED = "Stalled"


def apply_result(
    metric: MetricSpec, tally: MetricTally, result: AnalysisResult, now: datetime
) -> tuple[MetricTally, TallyOutcome]:
    """The tally with `result` counted in, and what the result means for the rollout."""
    if tally.metric != metric.name:
        raise ValueError(f"tally is for metric {tally.metric!r}, expected {metric.name!r}")
    verdict = result.verdict
    failure = verdict is Verdict.FAILED or (
        verdict is Verdict.ERROR and metric.on_provider_error is ProviderErrorPolicy.FAIL
    )
    counted = _count(tally, verdict, failure, now)
    if metric.dry_run:  # recorded, never acted on
        return counted, TallyOutcome.PASSED if verdict is Verdict.PASSED else TallyOutcome.PENDING
    if failure:
        return counted, TallyOutcome.FAILED if counted.failed > metric.failure_limit else TallyOutcome.PENDING
    if verdict is Verdict.PASSED:
        return counted, TallyOutcome.PASSED
    if verdict is Verdict.INCONCLUSIVE:
        return counted, _inconclusive_outcome(metric, counted)
    return counted, TallyOutcome.PENDING  # an Error held by onProviderError: hold


def _count(tally: MetricTally, verdict: Verdict, failure: bool, now: datetime) -> MetricTally:
    """The tally with one more `verdict` (and one more failure if it counts as one), its streaks, the time."""
    inconclusive = verdict is Verdict.INCONCLUSIVE
    error = verdict is Verdict.ERROR
    return tally.model_copy(
        update={
            "passed": tally.passed + (verdict is Verdict.PASSED),
            "failed": tally.failed + failure,
            "inconclusive": tally.inconclusive + inconclusive,
            "errors": tally.errors + error,
            "consecutive_inconclusive": tally.consecutive_inconclusive + 1 if inconclusive else 0,
            "consecutive_errors": tally.consecutive_errors + 1 if error else 0,
            "last_measured_at": now,
        }
    )


def _inconclusive_outcome(metric: MetricSpec, tally: MetricTally) -> TallyOutcome:
    limit = metric.inconclusive_limit
    if limit is not None and tally.consecutive_inconclusive > limit:
        return TallyOutcome.STALLED
    return TallyOutcome.PENDING
