"""Absolute bounds: the candidate's value must lie within `min` and/or `max`.

A value read without counts (a Prometheus query, a p99) is held against its bounds as read. A
proportion the source counted (errors of requests, agreements of comparisons, correct of
labelled) is judged on both sides by its counts, the same way: the exact binomial p-value of "the
rate is past the bound" and of "the rate is within it" each become anytime-valid evidence
(`controller.analysis.sequential`) held against the rollout's share of 1 - DEFAULT_CONFIDENCE.
Failed needs evidence that the true rate is past a bound; Passed needs evidence that it is within
every bound; until one of them holds the measurement is Inconclusive and the step measures again
on more samples. So a good model's rate read a little past the bound by chance is not rolled back,
and a bad model's rate read a little inside it is not promoted: each is decided as its samples
grow. A rate exactly on a bound is never decided, as no number of samples can place it.

A bound at the edge of what a rate can be (`max: 0`, `min: 1`) is held as read: the first event
past it fails, and no events pass, since no count proves a rate of exactly 0.
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
    limits = _limits(metric)
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
    counted = _counted(observation.candidate, value)
    if counted is not None:
        verdict, reason = _judge_counted(metric, check, counted, value, significance_level(None, tests))
    elif check.passed:
        verdict, reason = Verdict.PASSED, f"{metric.name} {show(value, rate)} is within {describe_bounds(metric, rate)}"
    else:
        verdict, reason = Verdict.FAILED, _past(metric.name, check, value, rate)
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


def _limits(metric: MetricSpec) -> list[tuple[str, float]]:
    limits = [(name, limit) for name, limit in (("min", metric.min_), ("max", metric.max_)) if limit is not None]
    if not limits:
        raise ValueError(f"metric {metric.name!r} sets neither min nor max; expected at least one bound")
    return limits


def _past(name: str, check: BoundCheck, value: float, rate: bool) -> str:
    side = "below" if check.bound == "min" else "above"
    return f"{name} {show(value, rate)} is {side} {check.bound} {show(check.threshold, rate)}"


def _counted(sample: VariantSample | None, value: float) -> tuple[int, int] | None:
    """(hits, count) when the value is a proportion the source counted, else None."""
    counted = events(sample, "candidate") if sample is not None and sample.counted else None
    if counted is None or counted[1] == 0 or value != counted[0] / counted[1]:
        return None
    return counted


def _judge_counted(
    metric: MetricSpec, check: BoundCheck, counted: tuple[int, int], value: float, alpha: float
) -> tuple[Verdict, str]:
    """Failed on evidence of a rate past a bound, Passed on evidence of one within all, else Inconclusive."""
    hits, count = counted
    if not check.passed:
        p_value = _anytime_p(_past_p(check.bound, check.threshold, hits, count), count, alpha)
        return _settled(Verdict.FAILED, _past(metric.name, check, value, rate=True), p_value, alpha, count)
    within = describe_bounds(metric, rate=True)
    # The intersection of "within min" and "within max" is shown by showing each: the largest p-value decides.
    doubts = [_anytime_p(_within_p(name, limit, hits, count), count, alpha) for name, limit in _limits(metric)]
    p_value = max(doubts)
    return _settled(Verdict.PASSED, f"{metric.name} {show(value, rate=True)} is within {within}", p_value, alpha, count)


def _settled(verdict: Verdict, head: str, p_value: float, alpha: float, count: int) -> tuple[Verdict, str]:
    """`verdict` once the evidence is beyond chance, else Inconclusive; the reason shows which."""
    if p_value < alpha:
        return verdict, f"{head} (anytime p={show_p(p_value)} < {show_p(alpha)} over {count} samples)"
    return Verdict.INCONCLUSIVE, f"{head} on {count} samples, not yet beyond chance (anytime p={show_p(p_value)} >= {show_p(alpha)})"


def _past_p(bound: str, limit: float, hits: int, count: int) -> float:
    """Exact binomial p-value of "the rate is within this bound", on a reading past it."""
    # P(at least `hits` of `count`) at a rate on the max, P(at most `hits`) on the min.
    return float(special.bdtrc(hits - 1, count, limit) if bound == "max" else special.bdtr(hits, count, limit))


def _within_p(bound: str, limit: float, hits: int, count: int) -> float:
    """Exact binomial p-value of "the rate is past this bound", on a reading within it.

    A bound a rate cannot be past (`max: 1`, `min: 0`) is met by any reading; one on the edge of
    what a rate can be (`max: 0`, `min: 1`) is held as read, since no count proves it.
    """
    if limit <= 0.0 or limit >= 1.0:
        return 0.0
    # P(at most `hits` of `count`) at a rate on the max, P(at least `hits`) on the min.
    return float(special.bdtr(hits, count, limit) if bound == "max" else special.bdtrc(hits - 1, count, limit))


def _anytime_p(look_p: float, count: int, alpha: float) -> float:
    return one_sided_evidence(z_of(look_p), count, alpha).p_value
