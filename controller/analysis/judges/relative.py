"""Relative to stable: the candidate may exceed the stable value by at most `maxIncrease`.

`maxIncrease.absolute` is in the metric's units; `maxIncrease.percent` is a percent of the
stable value's magnitude. A percent of zero is zero, so against a stable value of 0 a percent
limit allows no increase at all; metrics that can sit at 0 (error rates) want `absolute`.
"""

from __future__ import annotations

import math

from controller.analysis.judges.evidence import is_rate, result, show, show_delta
from controller.analysis.judges.samples import point_value
from controller.analysis.observations import AnalysisResult, MetricObservation
from controller.api.metrics import MaxIncrease, MetricSpec
from controller.api.status import Verdict

__all__ = ["judge"]


def judge(metric: MetricSpec, observation: MetricObservation, tests: int = 1) -> AnalysisResult:
    """`tests` is unused: a point value against a limit is not a test of the candidate's samples."""
    limit = metric.max_increase
    if limit is None:
        raise ValueError(f"metric {metric.name!r} has no maxIncrease; expected it for a relative judgement")
    candidate = point_value(observation.candidate, "candidate")
    stable = point_value(observation.stable, "stable")
    if candidate is None or stable is None:
        missing = "candidate" if candidate is None else "stable"
        reason = f"{metric.name}: the source gave no {missing} value to compare"
        return result(Verdict.INCONCLUSIVE, reason, observation, candidate_value=candidate, stable_value=stable)
    rate = is_rate(metric, observation.candidate)
    if limit.absolute is not None:
        return _absolute(metric, observation, candidate, stable, limit.absolute, rate)
    return _percent(metric, observation, candidate, stable, _percent_limit(limit), rate)


def _percent_limit(limit: MaxIncrease) -> float:
    if limit.percent is None:
        raise ValueError("maxIncrease sets neither absolute nor percent; expected exactly one")
    return limit.percent


def _absolute(
    metric: MetricSpec, observation: MetricObservation, candidate: float, stable: float, allowed: float, rate: bool
) -> AnalysisResult:
    increase = candidate - stable
    verdict = Verdict.FAILED if _exceeds(increase, allowed) else Verdict.PASSED
    relation = "more than" if verdict is Verdict.FAILED else "within"
    head = f"{metric.name} {show(candidate, rate)} vs stable {show(stable, rate)}"
    change, limit = show_delta(increase, rate, signed=True), show_delta(allowed, rate)
    reason = f"{head}: change {change} is {relation} the allowed increase {limit}"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=candidate,
        stable_value=stable,
        statistic="increase",
        statistic_value=_finite(increase),
        threshold=allowed,
    )


def _percent(
    metric: MetricSpec, observation: MetricObservation, candidate: float, stable: float, allowed: float, rate: bool
) -> AnalysisResult:
    head = f"{metric.name} {show(candidate, rate)} vs stable {show(stable, rate)}"
    if stable == 0:
        verdict, reason, percent = _from_zero(head, candidate, allowed)
    else:
        percent = (candidate - stable) / abs(stable) * 100
        verdict = Verdict.FAILED if _exceeds(percent, allowed) else Verdict.PASSED
        relation = "more than" if verdict is Verdict.FAILED else "within"
        reason = f"{head}: change {percent:+.3g}% is {relation} the allowed increase {allowed:g}%"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=candidate,
        stable_value=stable,
        statistic="increase_percent",
        statistic_value=_finite(percent),
        threshold=allowed,
    )


def _exceeds(change: float, allowed: float) -> bool:
    """Beyond the limit by more than float rounding: bucket edges 0.2 - 0.05 is 0.15000000000000002, not above 0.15."""
    return change > allowed and not math.isclose(change, allowed, rel_tol=1e-9, abs_tol=1e-12)


def _finite(number: float | None) -> float | None:
    """The number for the evidence, or None past float range (1e306 over 1 is an infinite percent)."""
    return number if number is None or math.isfinite(number) else None


def _from_zero(head: str, candidate: float, allowed: float) -> tuple[Verdict, str, float | None]:
    """Against a stable 0 a relative change is unbounded: any increase fails, reported with no percent."""
    if candidate > 0:
        advice = "use maxIncrease.absolute for metrics that can be 0"
        return Verdict.FAILED, f"{head}: stable is 0, so any increase exceeds {allowed:g}%; {advice}", None
    percent = 0.0 if candidate == 0 else None
    return Verdict.PASSED, f"{head}: no increase over a stable 0", percent
