"""The split in force: writing a new one, waiting for the routers, and when it came into force.

A new split is a `SetTraffic` action plus `TrafficApplied=False`. A later decision that
observes `traffic_applied` turns the condition True; its transition time is when the split
came into force, which is where analysis windows and step timers start. A split written in
this decision is never confirmed by this decision's observations: they were taken before it.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from controller.api.status import ConditionStatus, ModelRolloutStatus, TrafficSplit
from controller.engine.actions import SetTraffic
from controller.engine.conditions import TRAFFIC_APPLIED, find_condition, set_condition
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.strategies.steps import SetHeaderRoute, SetMirror, SetWeight, TrafficStep

__all__ = [
    "candidate_share",
    "confirm_traffic",
    "reaches_candidate",
    "set_traffic",
    "split_after",
    "takes_live_traffic",
    "traffic_pending",
    "traffic_since",
]


def set_traffic(plan: Plan, ctx: Context, split: TrafficSplit) -> Plan:
    """Write `split` between the status's stable and candidate revisions and wait for the routers."""
    stable = plan.status.stable_revision
    if stable is None:
        raise ValueError("a split needs a stable revision; status.stableRevision is unset")
    action = SetTraffic(stable_revision=stable, candidate_revision=plan.status.candidate_revision, split=split)
    conditions = set_condition(
        plan.status.conditions,
        TRAFFIC_APPLIED,
        False,
        Reason.WAITING_FOR_ROUTERS,
        Message.WAITING_FOR_ROUTERS.format(split=split.summary),
        ctx.now,
        ctx.rollout.generation,
    )
    return plan.update(traffic=split, traffic_summary=split.summary, conditions=conditions).act(action)


def confirm_traffic(plan: Plan, ctx: Context) -> Plan:
    """Mark the pending split applied once the routers say so; a running step's clock starts again then."""
    if not traffic_pending(plan.status) or not ctx.observations.traffic_applied:
        return plan
    split = plan.status.traffic.summary
    conditions = set_condition(
        plan.status.conditions,
        TRAFFIC_APPLIED,
        True,
        Reason.TRAFFIC_APPLIED,
        Message.TRAFFIC_APPLIED.format(split=split),
        ctx.now,
        ctx.rollout.generation,
    )
    plan = plan.update(conditions=conditions)
    return plan.update(step_started_at=ctx.now) if plan.status.current_step is not None else plan


def traffic_pending(status: ModelRolloutStatus) -> bool:
    condition = find_condition(status.conditions, TRAFFIC_APPLIED)
    return condition is not None and condition.status != ConditionStatus.TRUE


def traffic_since(status: ModelRolloutStatus) -> datetime | None:
    """When the routers confirmed the split in force; None while a new one is pending."""
    condition = find_condition(status.conditions, TRAFFIC_APPLIED)
    if condition is None or condition.status != ConditionStatus.TRUE:
        return None
    return condition.last_transition_time


def split_after(step: TrafficStep, split: TrafficSplit) -> TrafficSplit:
    """The split once `step` is applied to `split`; the other parts stay."""
    match step:
        case SetWeight(percent=percent):
            return TrafficSplit(
                stable=100 - percent, candidate=percent, mirror=split.mirror, header_route=split.header_route
            )
        case SetMirror(percent=percent):
            return TrafficSplit(
                stable=split.stable, candidate=split.candidate, mirror=percent, header_route=split.header_route
            )
        case SetHeaderRoute(route=route):
            return TrafficSplit(stable=split.stable, candidate=split.candidate, mirror=split.mirror, header_route=route)
    raise TypeError(f"{step!r} is not a traffic step")


def reaches_candidate(split: TrafficSplit) -> bool:
    """Whether any request (live, mirrored or header-routed) would reach the candidate."""
    return split.candidate > 0 or split.mirror > 0 or split.header_route is not None


def takes_live_traffic(split: TrafficSplit) -> bool:
    """Live or mirrored traffic: what background analysis needs to have anything to measure."""
    return split.candidate > 0 or split.mirror > 0


def candidate_share(split: TrafficSplit) -> Fraction:
    """Percent of all requests that reach the candidate: its live weight, plus the mirrored copies of
    what the stable serves (the router mirrors only requests the stable answers). A header route
    is for testers and counts for nothing."""
    return Fraction(split.candidate) + Fraction(split.mirror * split.stable, 100)
