"""An invalid spec stops the engine where it stands: nothing changes but the reason, and a person is told."""

from __future__ import annotations

from controller.api.spec import ModelRolloutSpec
from controller.api.status import Phase
from controller.api.validation import SpecIssue, validate_spec
from controller.engine.phases import Transition
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.errors import SpecError
from controller.strategies.expand import expand
from controller.strategies.steps import Step

__all__ = ["checked_steps", "recover_valid_spec", "report_invalid"]


def checked_steps(spec: ModelRolloutSpec) -> tuple[tuple[Step, ...], list[SpecIssue]]:
    """The spec's steps, or no steps and every problem that keeps it from running."""
    issues = validate_spec(spec)
    if issues:
        return (), issues
    try:
        return tuple(expand(spec)), []
    except SpecError as exc:
        return (), [SpecIssue(path=exc.path, message=exc.message)]
    except ValueError as exc:
        return (), [SpecIssue(path=".spec.strategy", message=str(exc))]


def report_invalid(plan: Plan, ctx: Context, issues: list[SpecIssue]) -> Plan:
    """Reason InvalidSpec naming the first problem; the phase stays (Degraded when nothing runs yet)."""
    status = plan.status
    more = len(issues) - 1
    first = str(issues[0])
    message = (
        Message.INVALID_SPEC_MORE.format(first=first, more=more, plural="s" if more > 1 else "") if more else first
    )
    repeated = status.reason == Reason.INVALID_SPEC and status.message == message
    if status.stable_revision is None and status.phase in (None, Phase.DEGRADED):
        plan = plan.transition(Transition.INVALID, Reason.INVALID_SPEC, message)
    else:
        plan = plan.explain(Reason.INVALID_SPEC, message)
    return plan if repeated else plan.event(Reason.INVALID_SPEC, message, "Warning")


def recover_valid_spec(plan: Plan, ctx: Context) -> Plan:
    """The spec was invalid and is valid now: say so; the stages after this one take it from here."""
    if plan.status.reason != Reason.INVALID_SPEC:
        return plan
    return plan.explain(Reason.SPEC_CORRECTED, Message.SPEC_CORRECTED).event(
        Reason.SPEC_CORRECTED, Message.SPEC_CORRECTED
    )
