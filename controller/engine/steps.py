"""Running the current step: hold, or complete it and go on, as far as this decision allows.

A traffic step writes its split and completes once the routers confirm it (never in the
decision that wrote it); no split that gives the candidate more reaches it before the
candidate is ready at the size that share needs, and `Promote` waits for it at full size. A
pause completes when its time is up, an analysis when every metric has passed `count` times,
and `Promote` / `ReportVerdict` end the rollout. Nothing runs while a person's attention is
needed (a manual pause or an inconclusive stall) or while a provider is down past its
`errorLimit`.
"""

from __future__ import annotations

from controller.api.status import PauseState, Phase, TrafficSplit, Verdict
from controller.engine.endings import promote, report_verdict
from controller.engine.gates import hold_at_gate
from controller.engine.measurements import analysis_done, analysis_progress, current_step, held
from controller.engine.phases import Transition
from controller.engine.plan import Context, Plan, seconds_since
from controller.engine.reasons import Message, Reason
from controller.engine.replicas import ready_at
from controller.engine.traffic import candidate_share, reaches_candidate, set_traffic, split_after, traffic_pending
from controller.strategies.expand import candidate_replicas, full_size
from controller.strategies.steps import Analysis, Pause, Promote, ReportVerdict, Step, TrafficStep, describe

__all__ = ["advance", "complete_step", "enter_step", "needs_person", "settle_phase"]


def enter_step(plan: Plan, ctx: Context, index: int) -> Plan:
    """Make step `index` current with a fresh clock; an analysis step starts with fresh tallies."""
    step = ctx.steps[index]
    tallies = plan.status.tallies
    if isinstance(step, Analysis):
        tallies = [t for t in tallies if t.scope != step.scope]
    return plan.update(current_step=index, step_started_at=ctx.now, step_measurements=0, pause=None, tallies=tallies)


def complete_step(plan: Plan, ctx: Context) -> Plan:
    index = plan.status.current_step
    if index is None or index + 1 >= len(ctx.steps):
        raise ValueError(f"step {index} cannot complete into a next step; the last step ends the rollout")
    message = Message.STEP_COMPLETED.format(index=index, step=describe(ctx.steps[index]))
    return enter_step(plan.event(Reason.STEP_COMPLETED, message), ctx, index + 1)


def advance(plan: Plan, ctx: Context) -> Plan:
    """Run steps until one holds or the rollout ends; every traffic step needs a later decision to complete."""
    plan = _fit_steps(plan, ctx)
    for _ in range(len(ctx.steps)):
        status = plan.status
        step = current_step(status, ctx.steps)
        if step is None or held(status) or status.candidate_revision != ctx.target:
            return plan
        if status.provider_outage is not None:
            # Measurements go on (they end the outage); nothing else moves while a guard is blind.
            return plan.explain(Reason.PROVIDER_UNAVAILABLE, status.provider_outage.message)
        gated = hold_at_gate(plan, ctx, step)
        if gated is not None:
            return gated
        plan, done = _run(plan, ctx, step)
        if not done or plan.status.current_step is None:
            return plan
        plan = complete_step(plan, ctx)
    return plan


def _fit_steps(plan: Plan, ctx: Context) -> Plan:
    """Steps edited mid-rollout (same template): a step index past the new end goes to the last step."""
    index = plan.status.current_step
    if index is None:
        return plan
    plan = plan.update(step_count=len(ctx.steps)) if plan.status.step_count != len(ctx.steps) else plan
    return enter_step(plan, ctx, len(ctx.steps) - 1) if index >= len(ctx.steps) else plan


def _run(plan: Plan, ctx: Context, step: Step) -> tuple[Plan, bool]:
    if traffic_pending(plan.status):
        return _waiting_for_traffic(plan, step), False
    match step:
        case Pause():
            return _pause(plan, ctx, step)
        case Analysis():
            return _analysis(plan, step)
        case Promote():
            # It takes everything once stable: at full size first, then the switch.
            plan, ready = ready_at(plan, ctx, full_size(ctx.spec))
            if not ready:
                return _waiting_for_candidate(plan, step), False
            return promote(plan, ctx, step), True
        case ReportVerdict():
            return report_verdict(plan, ctx, Verdict.PASSED), True
    return _traffic(plan, ctx, step)


def _traffic(plan: Plan, ctx: Context, step: TrafficStep) -> tuple[Plan, bool]:
    current = plan.status.traffic
    desired = split_after(step, current)
    if desired == current:
        return plan, True
    if _more_exposed(desired, current):
        # The candidate grows to what the new split sends it before the split is written.
        plan, ready = ready_at(plan, ctx, candidate_replicas(ctx.spec, candidate_share(desired)))
        if not ready:
            return _waiting_for_candidate(plan, step), False
    return _waiting_for_traffic(set_traffic(plan, ctx, desired), step), False


def _more_exposed(desired: TrafficSplit, current: TrafficSplit) -> bool:
    """Whether `desired` sends the candidate anything `current` does not; less never waits on readiness."""
    new_route = desired.header_route is not None and desired.header_route != current.header_route
    return reaches_candidate(desired) and (
        desired.candidate > current.candidate or desired.mirror > current.mirror or new_route
    )


def _pause(plan: Plan, ctx: Context, step: Pause) -> tuple[Plan, bool]:
    status = plan.status
    index = status.current_step
    waiting = Message.WAITING_FOR_PROMOTE.format(index=index, step=describe(step))
    if status.pause is None:
        since = status.step_started_at or ctx.now
        plan = plan.update(pause=PauseState(reason=step.kind, since=since, message=describe(step)))
        if step.duration_s is None:
            plan = plan.event(Reason.PAUSED, waiting)
    if step.duration_s is None:
        return plan.explain(Reason.WAITING_FOR_PROMOTE, waiting), False
    remaining = step.duration_s - seconds_since(status.step_started_at, ctx.now)
    if remaining <= 0:
        return plan, True
    message = Message.PAUSED_AT_STEP.format(index=index, step=describe(step), remaining=remaining)
    return plan.explain(Reason.PAUSED_AT_STEP, message), False


def _analysis(plan: Plan, step: Analysis) -> tuple[Plan, bool]:
    status = plan.status
    if analysis_done(status, step):
        return plan, True
    message = Message.ANALYZING.format(
        index=status.current_step, step=describe(step), progress=analysis_progress(status, step)
    )
    return plan.explain(Reason.ANALYZING, message), False


def _waiting_for_candidate(plan: Plan, step: Step) -> Plan:
    status = plan.status
    message = Message.WAITING_FOR_CANDIDATE.format(
        index=status.current_step, step=describe(step), candidate=status.candidate_revision
    )
    return plan.explain(Reason.WAITING_FOR_CANDIDATE, message)


def _waiting_for_traffic(plan: Plan, step: Step) -> Plan:
    status = plan.status
    message = Message.WAITING_FOR_TRAFFIC.format(
        index=status.current_step, step=describe(step), split=status.traffic.summary
    )
    return plan.explain(Reason.WAITING_FOR_TRAFFIC, message)


def needs_person(plan: Plan, ctx: Context) -> bool:
    """A running rollout that will not go on by itself: manual pause, stall, or a pause until promoted."""
    status = plan.status
    step = current_step(status, ctx.steps)
    return held(status) or (isinstance(step, Pause) and step.duration_s is None and not traffic_pending(status))


def settle_phase(plan: Plan, ctx: Context) -> Plan:
    """Progressing or Paused, by whether the running rollout waits on a person."""
    status = plan.status
    if status.candidate_revision is None or status.phase not in (Phase.PROGRESSING, Phase.PAUSED):
        return plan
    wanted = Phase.PAUSED if needs_person(plan, ctx) else Phase.PROGRESSING
    if wanted is status.phase:
        return plan
    transition = Transition.HOLD if wanted is Phase.PAUSED else Transition.RESUME
    return plan.transition(transition, status.reason or Reason.ROLLOUT_STARTED, status.message)
