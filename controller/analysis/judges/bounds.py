"""Absolute bounds: the candidate's value must lie within `min` and/or `max`."""

from __future__ import annotations

from dataclasses import dataclass

from controller.analysis.judges.evidence import is_rate, result, show
from controller.analysis.judges.samples import point_value
from controller.analysis.observations import AnalysisResult, MetricObservation
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

__all__ = ["BoundCheck", "check_bounds", "describe_bounds", "judge"]


@dataclass(frozen=True)
class BoundCheck:
    """Whether a value is in bounds, and the bound that decided: the violated one, else the closest."""

    passed: bool
    bound: str  # "min" or "max"
    threshold: float


def check_bounds(metric: MetricSpec, value: float) -> BoundCheck:
    limits = [(name, limit) for name, limit in (("min", metric.min_), ("max", metric.max_)) if limit is not None]
    if not limits:
        raise ValueError(f"metric {metric.name!r} sets neither min nor max; expected at least one bound")
    if metric.min_ is not None and value < metric.min_:
        return BoundCheck(passed=False, bound="min", threshold=metric.min_)
    if metric.max_ is not None and value > metric.max_:
        return BoundCheck(passed=False, bound="max", threshold=metric.max_)
    name, limit = min(limits, key=lambda item: abs(value - item[1]))
    return BoundCheck(passed=True, bound=name, threshold=limit)


def describe_bounds(metric: MetricSpec, rate: bool) -> str:
    """The allowed range in words: `max 5%`, `min 0.9`, or `0.9..1.2`."""
    if metric.min_ is not None and metric.max_ is not None:
        return f"{show(metric.min_, rate)}..{show(metric.max_, rate)}"
    if metric.min_ is not None:
        return f"min {show(metric.min_, rate)}"
    return f"max {show(metric.max_, rate)}"


def judge(metric: MetricSpec, observation: MetricObservation) -> AnalysisResult:
    rate = is_rate(metric, observation.candidate)
    value = point_value(observation.candidate, "candidate")
    stable_value = point_value(observation.stable, "stable")
    if value is None:
        reason = f"{metric.name}: the source gave no candidate value to hold against {describe_bounds(metric, rate)}"
        return result(Verdict.INCONCLUSIVE, reason, observation, stable_value=stable_value)
    check = check_bounds(metric, value)
    if check.passed:
        verdict, reason = Verdict.PASSED, f"{metric.name} {show(value, rate)} is within {describe_bounds(metric, rate)}"
    else:
        side = "below" if check.bound == "min" else "above"
        verdict = Verdict.FAILED
        reason = f"{metric.name} {show(value, rate)} is {side} {check.bound} {show(check.threshold, rate)}"
    return result(
        verdict,
        reason,
        observation,
        candidate_value=value,
        stable_value=stable_value,
        statistic=check.bound,
        statistic_value=value,
        threshold=check.threshold,
    )
