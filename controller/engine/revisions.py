"""Following the template: the first stable, starting a rollout, replacing or cancelling one.

The template's revision is compared with the status's stable, candidate and rejected revisions:

    no stable yet                      -> it becomes stable at once
    equal to the candidate             -> the rollout goes on
    new (not stable, not rejected)     -> a rollout starts, or replaces the running candidate
    stable or rejected, rollout runs   -> the rollout is cancelled
    stable, nothing runs               -> steady; a Degraded rollout recovers (the user reverted)
    rejected, nothing runs             -> stays as it is until `retry`
"""

from __future__ import annotations

from controller.api.status import Phase, TrafficSplit
from controller.engine.actions import EnsureRevision, ScaleRevision
from controller.engine.endings import NO_ROLLOUT
from controller.engine.phases import Transition
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.engine.replicas import starting_size
from controller.engine.steps import enter_step
from controller.engine.traffic import set_traffic

__all__ = ["follow_template", "initialize", "start_rollout"]


def follow_template(plan: Plan, ctx: Context) -> Plan:
    status = plan.status
    if status.stable_revision is None:
        return initialize(plan, ctx)
    wanted = ctx.target not in (status.stable_revision, status.rejected_revision)
    candidate = status.candidate_revision
    if candidate is None:
        if wanted:
            return start_rollout(plan, ctx, Transition.START, _started_message(plan, ctx))
        return _steady(plan, ctx) if ctx.target == status.stable_revision else plan
    if ctx.target == candidate:
        return plan
    return _replace(plan, ctx) if wanted else _cancel(plan, ctx)


def initialize(plan: Plan, ctx: Context) -> Plan:
    """No stable yet: the template's revision becomes stable at once and serves everything."""
    stable, replicas = ctx.target, ctx.spec.replicas
    plan = plan.act(EnsureRevision(revision=stable, template=ctx.spec.template, replicas=replicas, role="stable"))
    plan = set_traffic(plan.update(stable_revision=stable, **NO_ROLLOUT), ctx, TrafficSplit.all_stable())
    message = Message.INITIALIZED.format(stable=stable, replicas=replicas)
    return plan.transition(Transition.INITIALIZE, Reason.INITIALIZED, message).event(Reason.INITIALIZED, message)


def start_rollout(plan: Plan, ctx: Context, transition: Transition, message: str) -> Plan:
    """The template's revision becomes the candidate at its strategy's size; steps start at 0."""
    target = ctx.target
    scale_down = plan.status.scale_down
    plan = plan.update(
        **{**NO_ROLLOUT, "candidate_revision": target},
        step_count=len(ctx.steps),
        background_measured_at=None,
        shadow_verdict=None,
        tallies=[],
        # The old stable kept warm may be the revision rolled out again: it must not be scaled away.
        scale_down=None if scale_down is not None and scale_down.revision == target else scale_down,
    )
    replicas = starting_size(plan.status, ctx)
    plan = plan.update(candidate_replicas=replicas)
    plan = plan.act(EnsureRevision(revision=target, template=ctx.spec.template, replicas=replicas, role="candidate"))
    if plan.status.traffic != TrafficSplit.all_stable():
        plan = set_traffic(plan, ctx, TrafficSplit.all_stable())
    plan = plan.transition(transition, Reason.ROLLOUT_STARTED, message).event(Reason.ROLLOUT_STARTED, message)
    return enter_step(plan, ctx, 0)


def _started_message(plan: Plan, ctx: Context) -> str:
    return Message.ROLLOUT_STARTED.format(
        candidate=ctx.target,
        stable=plan.status.stable_revision,
        strategy=ctx.spec.strategy.kind,
        steps=len(ctx.steps),
    )


def _replace(plan: Plan, ctx: Context) -> Plan:
    old = plan.status.candidate_revision
    message = Message.CANDIDATE_REPLACED.format(old=old, new=ctx.target, stable=plan.status.stable_revision)
    plan = plan.act(ScaleRevision(revision=str(old), replicas=0)).event(Reason.CANDIDATE_REPLACED, message)
    return start_rollout(plan.update(candidate_revision=None), ctx, Transition.REPLACE, message)


def _cancel(plan: Plan, ctx: Context) -> Plan:
    """The template went back to the stable or a rejected revision: the running candidate goes away."""
    status = plan.status
    candidate = str(status.candidate_revision)
    plan = set_traffic(plan.update(candidate_revision=None), ctx, TrafficSplit.all_stable())
    plan = plan.act(ScaleRevision(revision=candidate, replicas=0)).update(**NO_ROLLOUT)
    if ctx.target == status.stable_revision:
        transition = Transition.CANCEL_TO_STABLE
        message = Message.CANCELLED_TO_STABLE.format(stable=status.stable_revision, candidate=candidate)
    else:
        transition = Transition.CANCEL_TO_REJECTED
        message = Message.CANCELLED_TO_REJECTED.format(rejected=status.rejected_revision, candidate=candidate)
    plan = plan.transition(transition, Reason.ROLLOUT_CANCELLED, message)
    return plan.event(Reason.ROLLOUT_CANCELLED, message, "Warning")


def _steady(plan: Plan, ctx: Context) -> Plan:
    """The template is the stable one and nothing runs: recover from a rollback or undo, follow replicas."""
    status = plan.status
    if status.rejected_revision is not None:
        plan = plan.update(rejected_revision=None)
    if status.phase is Phase.DEGRADED:
        message = Message.REVERTED.format(stable=status.stable_revision)
        return plan.transition(Transition.REVERT, Reason.REVERTED, message).event(Reason.REVERTED, message)
    if status.observed_generation != ctx.rollout.generation:
        # Another spec field changed (replicas, most often): the stable follows it.
        stable = str(status.stable_revision)
        replicas = ctx.spec.replicas
        return plan.act(EnsureRevision(revision=stable, template=ctx.spec.template, replicas=replicas, role="stable"))
    return plan
