"""Absolute bounds: the candidate's value must lie within `min` and/or `max`.

A value beyond a bound fails, except a proportion the source counted (errors of requests,
agreements of comparisons, correct of labelled), which fails only once the counts show its true
rate beyond the bound: the exact binomial p-value of "the rate is within the bound" becomes
anytime-valid evidence (`controller.analysis.sequential`) held against the rollout's share of
1 - DEFAULT_CONFIDENCE. Until then the measurement is Inconclusive and the step measures again: a
rate a few samples put past the bound by chance is not a failure, and one truly past it fails as
its samples grow. A bound of 0 or 1 is certain to be crossed by the first event beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import special

from controller.analysis.judges.evidence import is_rate, result, show, show_p, significance_level
from controller.analysis.judges.samples import events, point_value
from controller.analysis.observations import AnalysisResult, MetricObservation, VariantSample
from controller.analysis.sequential import one_sided_evidence, z_of
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


def judge(metric: MetricSpec, observation: MetricObservation, tests: int = 1) -> AnalysisResult:
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
        doubt = _doubt(check, observation.candidate, value, tests)
        if doubt is not None:
            verdict, reason = doubt[0], f"{reason}{doubt[1]}"
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


def _doubt(check: BoundCheck, sample: VariantSample | None, value: float, tests: int) -> tuple[Verdict, str] | None:
    """For a counted proportion past its bound: Failed once beyond doubt, else Inconclusive; None for other values."""
    counted = events(sample, "candidate") if sample is not None and sample.counted else None
    if counted is None or counted[1] == 0 or value != counted[0] / counted[1]:
        return None
    hits, count = counted
    # P(at least `hits` of `count`) at a rate on the max, P(at most `hits`) on the min: exact binomial tails.
    bound = check.threshold
    within = special.bdtrc(hits - 1, count, bound) if check.bound == "max" else special.bdtr(hits, count, bound)
    alpha = significance_level(None, tests)
    p_value = one_sided_evidence(z_of(float(within)), count, alpha).p_value
    if p_value < alpha:
        return Verdict.FAILED, f" (anytime p={show_p(p_value)} < {show_p(alpha)} over {count} samples)"
    return Verdict.INCONCLUSIVE, f" on {count} samples, not yet beyond chance (anytime p={show_p(p_value)} >= {show_p(alpha)})"
