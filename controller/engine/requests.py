"""A person's requests: promote, promote --full, abort, retry, pause, resume, undo.

Each request id is handled once (`status.lastRequestId`). A request that means nothing in the
current state is ignored with a Warning event naming the action and the phase; it never
fails the decision. An undo whose target revision is not ready yet is left unhandled, so the
same request (still on the resource) is tried again by the next decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.api.status import MetricTally, PauseState, Phase, RequestOutcome
from controller.engine.actions import ScaleRevision
from controller.engine.endings import rollback, undo
from controller.engine.inputs import ManualAction, ManualRequest
from controller.engine.measurements import current_step, held
from controller.engine.phases import Transition, request_makes_sense
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.engine.revisions import start_rollout
from controller.engine.steps import complete_step
from controller.strategies.steps import Analysis, Pause, Promote

__all__ = ["handle_request"]


@dataclass(frozen=True)
class Ignored:
    why: str


@dataclass(frozen=True)
class Deferred:
    """Not done yet, and not to be marked handled: the next decision tries the same request again."""

    plan: Plan


Handled = Plan | Ignored | Deferred
Handler = Callable[[Plan, Context, ManualRequest], Handled]


def handle_request(plan: Plan, ctx: Context) -> Plan:
    request = ctx.observations.request
    if request is None or request.id == plan.status.last_request_id:
        return plan
    phase = plan.status.phase
    if not request_makes_sense(request.action, phase):
        outcome: Handled = Ignored(f"{request.action.value} has nothing to act on")
    else:
        outcome = _HANDLERS[request.action](plan, ctx, request)
    if isinstance(outcome, Deferred):
        return outcome.plan
    if isinstance(outcome, Ignored):
        shown = phase.value if phase is not None else "none"
        message = Message.REQUEST_IGNORED.format(action=request.action.value, phase=shown, why=outcome.why)
        answer = RequestOutcome(id=request.id, action=request.action.value, handled=False, message=message)
        return plan.event(Reason.REQUEST_IGNORED, message, "Warning").update(last_request_id=request.id, last_request=answer)
    # The CLI waits on this answer: what the controller now says the rollout is doing.
    answer = RequestOutcome(id=request.id, action=request.action.value, handled=True, message=outcome.status.message)
    return outcome.update(last_request_id=request.id, last_request=answer)


def _promote(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    """Finish the current pause or analysis step now (a stall or manual pause included) and go on."""
    step = current_step(plan.status, ctx.steps)
    if not isinstance(step, (Pause, Analysis)):
        return Ignored(f"promote finishes a pause or analysis step; step {plan.status.current_step} is neither")
    return complete_step(plan.update(manual_pause=None, pause=None), ctx)


def _promote_full(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    last = len(ctx.steps) - 1
    if not isinstance(ctx.steps[last], Promote):
        return Ignored("this shadow run has promote: false and ends in a verdict; there is nothing to promote")
    message = Message.PROMOTE_FULL.format(request=request.id)
    plan = plan.update(current_step=last, step_started_at=ctx.now, pause=None, manual_pause=None, promote_full=True)
    return plan.explain(Reason.PROMOTE_FULL, message).event(Reason.PROMOTE_FULL, message)


def _abort(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    return rollback(plan, ctx, Reason.ABORTED, Message.ABORTED.format(request=request.id))


def _retry(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    status = plan.status
    if status.candidate_revision is not None or status.rejected_revision != ctx.target:
        return Ignored(
            f"retry rolls out a rejected template again; the template's revision {ctx.target} is not rejected"
        )
    message = Message.RETRIED.format(request=request.id, candidate=ctx.target, stable=status.stable_revision)
    return start_rollout(plan.update(rejected_revision=None), ctx, Transition.START, message)


def _pause(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    if plan.status.manual_pause is not None:
        return Ignored("the rollout is already paused by request")
    message = Message.MANUAL_PAUSE.format(request=request.id)
    plan = plan.update(manual_pause=PauseState(reason="manual", since=ctx.now, message=message))
    return plan.explain(Reason.MANUAL_PAUSE, message).event(Reason.PAUSED, message)


def _resume(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    """Clear a manual pause or an inconclusive stall; the stalled metrics get a fresh Inconclusive streak."""
    if not held(plan.status):
        return Ignored("resume ends a pause by request or a stall on Inconclusive results; there is neither")
    pause = plan.status.pause if plan.status.pause and plan.status.pause.reason != "inconclusive" else None
    tallies = [_fresh_streak(t) for t in plan.status.tallies]
    message = Message.RESUMED.format(request=request.id)
    plan = plan.update(manual_pause=None, pause=pause, tallies=tallies)
    return plan.explain(Reason.RESUMED, message).event(Reason.RESUMED, message)


def _fresh_streak(tally: MetricTally) -> MetricTally:
    return tally.model_copy(update={"consecutive_inconclusive": 0})


def _undo(plan: Plan, ctx: Context, request: ManualRequest) -> Handled:
    """Mid-rollout an undo aborts; once Healthy it switches back to the previous stable when that is ready."""
    status = plan.status
    if status.candidate_revision is not None:
        return rollback(plan, ctx, Reason.ABORTED, Message.ABORTED.format(request=request.id))
    previous = status.previous_stable_revision
    if status.phase is not Phase.HEALTHY or previous is None:
        return Ignored("undo needs a previous stable revision to go back to, and there is none")
    if ctx.target != status.stable_revision:
        return Ignored(
            f"the template is revision {ctx.target}, not stable {status.stable_revision}; change the template"
        )
    if ctx.is_ready(previous):
        return undo(plan, ctx, request.id)
    message = Message.UNDO_WAITING.format(request=request.id, revision=previous)
    plan = plan.act(ScaleRevision(revision=previous, replicas=ctx.spec.replicas))
    if status.reason != Reason.UNDO_WAITING:
        plan = plan.event(Reason.UNDO_WAITING, message)
    return Deferred(plan.explain(Reason.UNDO_WAITING, message))


_HANDLERS: dict[ManualAction, Handler] = {
    ManualAction.PROMOTE: _promote,
    ManualAction.PROMOTE_FULL: _promote_full,
    ManualAction.ABORT: _abort,
    ManualAction.RETRY: _retry,
    ManualAction.PAUSE: _pause,
    ManualAction.RESUME: _resume,
    ManualAction.UNDO: _undo,
}
