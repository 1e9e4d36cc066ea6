"""How many pods each revision runs: the stable all of `spec.replicas`, the candidate its share.

`spec.replicas` is the rollout's one number: a person or a GitOps tool sets it, or an HPA
through the scale subresource. The engine turns it into a size per revision, and those are the
controller's. The stable runs all of it for the whole rollout, so an abort is instant. The
candidate runs the share of it that reaches it (live weight plus mirrored copies), rounded up
and at least 1, unless the strategy fixes a size (`candidateReplicas`, `previewReplicas`); it
runs the full size before it becomes stable.

A candidate grows *before* it is given more: a step that needs a bigger candidate asks for it
and goes on only once the candidate is ready at that size, judged by an observation made after
the size was asked (`status.candidateReplicas` records it; readiness observed in the decision
that asked is readiness at the old size). It shrinks once the routers confirm a smaller share.
"""

from __future__ import annotations

from controller.api.status import ModelRolloutStatus, TrafficSplit
from controller.engine.actions import ScaleRevision
from controller.engine.measurements import current_step
from controller.engine.plan import Context, Plan
from controller.engine.traffic import candidate_share, split_after, traffic_pending
from controller.strategies.expand import candidate_replicas, full_size
from controller.strategies.steps import Promote, SetHeaderRoute, SetMirror, SetWeight

__all__ = ["candidate_target", "follow_replicas", "ready_at", "resize_candidate", "starting_size"]


def candidate_target(status: ModelRolloutStatus, ctx: Context) -> int:
    """The size the candidate needs now: for the split in force or the one its current step goes to."""
    step = current_step(status, ctx.steps)
    if isinstance(step, Promote):
        return full_size(ctx.spec)
    shares = [candidate_share(status.traffic)]
    if isinstance(step, (SetWeight, SetMirror, SetHeaderRoute)):
        shares.append(candidate_share(split_after(step, status.traffic)))
    target = candidate_replicas(ctx.spec, max(shares))
    asked = status.candidate_replicas
    if traffic_pending(status) and asked is not None:
        return max(target, asked)  # until the routers confirm a smaller share, they may still send the larger
    return target


def starting_size(status: ModelRolloutStatus, ctx: Context) -> int:
    """The size a new candidate starts at: what its first step needs, from all traffic on the stable."""
    start = {"current_step": 0, "candidate_replicas": None, "traffic": TrafficSplit.all_stable()}
    return candidate_target(status.model_copy(update=start), ctx)


def resize_candidate(plan: Plan, replicas: int) -> Plan:
    """Ask for `replicas` candidate pods, and remember it; nothing when that is what was asked."""
    candidate = plan.status.candidate_revision
    if candidate is None:
        raise ValueError("resizing the candidate needs a running rollout; status.candidateRevision is unset")
    if plan.status.candidate_replicas == replicas:
        return plan
    return plan.update(candidate_replicas=replicas).act(ScaleRevision(revision=candidate, replicas=replicas))


def ready_at(plan: Plan, ctx: Context, needed: int) -> tuple[Plan, bool]:
    """Whether the candidate is ready with at least `needed` pods, asking for them first if it has fewer."""
    candidate = plan.status.candidate_revision
    if (plan.status.candidate_replicas or 0) < needed:
        plan = resize_candidate(plan, needed)
    stored = ctx.rollout.status
    asked_before = stored.candidate_replicas if stored.candidate_revision == candidate else None
    return plan, (asked_before or 0) >= needed and ctx.is_ready(candidate)


def follow_replicas(plan: Plan, ctx: Context) -> Plan:
    """A running rollout's revisions follow spec.replicas and the candidate's share."""
    status = plan.status
    if status.candidate_revision is None:
        return plan
    if status.observed_generation != ctx.rollout.generation and status.stable_revision is not None:
        # spec.replicas may have changed (kubectl scale, an HPA): the stable follows; unchanged, it costs nothing.
        plan = plan.act(ScaleRevision(revision=status.stable_revision, replicas=ctx.spec.replicas))
    return resize_candidate(plan, candidate_target(plan.status, ctx))
