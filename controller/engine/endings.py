"""How a rollout ends: promotion, rollback, a shadow verdict, undo, and the delayed scale-down.

Each ending leaves no rollout running (`candidateRevision` and `currentStep` unset) and the
routers told where all traffic goes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from controller.api.status import Phase, ScaleDown, TrafficSplit, Verdict
from controller.engine.actions import EnsureRevision, ScaleRevision
from controller.engine.phases import Transition
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.engine.traffic import set_traffic
from controller.strategies.steps import Promote

__all__ = ["NO_ROLLOUT", "promote", "report_verdict", "rollback", "scale_down_due", "undo"]

# The status fields of a running rollout, as they are when none runs.
NO_ROLLOUT: dict[str, Any] = {
    "candidate_revision": None,
    "current_step": None,
    "step_started_at": None,
    "step_measurements": 0,
    "pause": None,
    "manual_pause": None,
    "promote_full": False,
    "candidate_replicas": None,
}


def rollback(plan: Plan, ctx: Context, reason: Reason, why: str) -> Plan:
    """Stable takes everything back, the candidate is scaled to 0 and rejected; `why` names the cause."""
    status = plan.status
    candidate, stable = status.candidate_revision, status.stable_revision
    if candidate is None:
        raise ValueError("rollback needs a running rollout; status.candidateRevision is unset")
    plan = set_traffic(plan.update(candidate_revision=None), ctx, TrafficSplit.all_stable())
    plan = plan.act(ScaleRevision(revision=candidate, replicas=0))
    plan = plan.update(**NO_ROLLOUT, rejected_revision=candidate)
    message = Message.ROLLED_BACK.format(candidate=candidate, stable=stable, why=why)
    plan = plan.transition(Transition.ROLLBACK, reason, message)
    return plan.event(Reason.ROLLED_BACK, message, "Warning")


def promote(plan: Plan, ctx: Context, step: Promote) -> Plan:
    """The candidate becomes stable at full size; the old stable stays warm for the step's delay."""
    status = plan.status
    new, old = status.candidate_revision, status.stable_revision
    if new is None or old is None:
        raise ValueError("promotion needs both a stable and a candidate revision")
    until = ctx.now + timedelta(seconds=step.scale_down_delay_s)
    plan = plan.act(EnsureRevision(revision=new, template=ctx.spec.template, replicas=ctx.spec.replicas, role="stable"))
    plan = plan.update(**NO_ROLLOUT, stable_revision=new, previous_stable_revision=old)
    plan = plan.update(scale_down=ScaleDown(revision=old, at=until))
    plan = set_traffic(plan, ctx, TrafficSplit.all_stable())
    message = Message.PROMOTED.format(stable=new, old=old, until=until.isoformat())
    return plan.transition(Transition.PROMOTE, Reason.PROMOTED, message).event(Reason.PROMOTED, message)


def report_verdict(plan: Plan, ctx: Context, verdict: Verdict, why: str = "") -> Plan:
    """A judge-only run ends: the candidate is scaled down and remembered as judged; nothing live changes."""
    status = plan.status
    candidate, stable = status.candidate_revision, status.stable_revision
    if candidate is None:
        raise ValueError("a verdict needs a running rollout; status.candidateRevision is unset")
    plan = set_traffic(plan.update(candidate_revision=None), ctx, TrafficSplit.all_stable())
    plan = plan.act(ScaleRevision(revision=candidate, replicas=0))
    # Remembered as rejected so re-applying the judged template does not run it again; retry does.
    plan = plan.update(**{**NO_ROLLOUT, "rejected_revision": candidate, "shadow_verdict": verdict})
    kind: Literal["Normal", "Warning"]
    if verdict is Verdict.PASSED:
        reason, kind = Reason.SHADOW_VERDICT_PASSED, "Normal"
        message = Message.SHADOW_VERDICT_PASSED.format(candidate=candidate, stable=stable)
    else:
        reason, kind = Reason.SHADOW_VERDICT_FAILED, "Warning"
        message = Message.SHADOW_VERDICT_FAILED.format(candidate=candidate, stable=stable, why=why)
    return plan.transition(Transition.VERDICT, reason, message).event(reason, message, kind)


def undo(plan: Plan, ctx: Context, request: str) -> Plan:
    """Traffic back to the previous stable (it must be ready), the current stable rejected and scaled down."""
    status = plan.status
    bad, previous = status.stable_revision, status.previous_stable_revision
    if bad is None or previous is None or status.phase is not Phase.HEALTHY:
        raise ValueError("undo needs a Healthy rollout with a previous stable revision")
    scale_down = status.scale_down if status.scale_down and status.scale_down.revision != previous else None
    plan = plan.act(ScaleRevision(revision=previous, replicas=ctx.spec.replicas))
    plan = plan.update(stable_revision=previous, previous_stable_revision=None, rejected_revision=bad)
    plan = set_traffic(plan.update(scale_down=scale_down), ctx, TrafficSplit.all_stable())
    plan = plan.act(ScaleRevision(revision=bad, replicas=0))
    message = Message.UNDONE.format(request=request, stable=previous, rejected=bad)
    return plan.transition(Transition.UNDO, Reason.UNDONE, message).event(Reason.UNDONE, message, "Warning")


def scale_down_due(plan: Plan, ctx: Context) -> Plan:
    """Scale the old stable to 0 once its warm period is over; never a revision that is live again."""
    scale_down = plan.status.scale_down
    if scale_down is None or ctx.now < scale_down.at:
        return plan
    plan = plan.update(scale_down=None)
    if scale_down.revision in (plan.status.stable_revision, plan.status.candidate_revision):
        return plan
    message = Message.SCALED_DOWN.format(revision=scale_down.revision)
    return plan.act(ScaleRevision(revision=scale_down.revision, replicas=0)).event(Reason.SCALED_DOWN, message)
