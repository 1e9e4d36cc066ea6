"""Webhook gates: which are asked when, what their answers do, and where they hold the rollout.

The engine asks (`due_gates`), the driver calls the URLs and hands the answers back
(`Observations.gates`), and `apply_gates` records each answer as a tally (scope `gate`, so a
yes is remembered until the next rollout starts) and an evidence record with its reason. A
`rollback` gate's yes rolls back; a holding gate's no keeps `hold_at_gate` holding the rollout
before its first step (`confirm-rollout`, then `pre-rollout`) or before the promotion
(`confirm-promotion`), where it is asked again. `tell_post_rollout` asks the adapters to tell
`post-rollout` gates once a rollout has ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from controller.api.gates import GateType, WebhookGate
from controller.api.spec import ModelRolloutSpec
from controller.api.status import EVIDENCE_LIMIT, AnalysisRecord, MetricTally, ModelRolloutStatus, Verdict
from controller.engine.actions import TellGate
from controller.engine.endings import rollback
from controller.engine.inputs import GateAnswer, GateRequest
from controller.engine.measurements import current_step
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.strategies.steps import Promote, Step

__all__ = ["GATE_SCOPE", "apply_gates", "due_gates", "hold_at_gate", "tell_post_rollout"]

GATE_SCOPE = "gate"
_BEFORE_FIRST_STEP = (GateType.CONFIRM_ROLLOUT, GateType.PRE_ROLLOUT)


def due_gates(status: ModelRolloutStatus, spec: ModelRolloutSpec, steps: tuple[Step, ...], now: datetime) -> list[GateRequest]:
    """The gates to ask now: those the rollout waits on where it stands, and rollback gates whose interval elapsed."""
    if status.candidate_revision is None or status.current_step is None:
        return []
    waiting = _waiting(status, spec, current_step(status, steps))
    rollback_due = [g for g in _gates(spec, GateType.ROLLBACK) if _rollback_due(status, g, now)]
    return [GateRequest(gate=gate) for gate in [*waiting, *rollback_due]]


def hold_at_gate(plan: Plan, ctx: Context, step: Step) -> Plan | None:
    """The plan held before `step` while a holding gate there has not said yes; None lets the step run."""
    waiting = _waiting(plan.status, ctx.spec, step)
    if not waiting:
        return None
    names = ", ".join(gate.name for gate in waiting)
    last = _last_answer(plan.status, waiting)
    message = Message.WAITING_FOR_GATE.format(
        index=plan.status.current_step, kind=waiting[0].type.value, names=names, last=last or "not asked yet"
    )
    return plan.explain(Reason.WAITING_FOR_GATE, message)


def apply_gates(plan: Plan, ctx: Context) -> Plan:
    """Record each answer; a rollback gate's yes rolls the candidate back."""
    gates = {gate.name: gate for gate in ctx.spec.webhooks or []}
    for answer in ctx.observations.gates:
        gate = gates.get(answer.gate)
        if gate is None or plan.status.candidate_revision is None:
            continue  # the spec or the rollout moved on since the gate was asked
        plan = _record(plan, ctx, gate, answer)
        if gate.type is GateType.ROLLBACK and answer.yes:
            why = Message.ROLLBACK_GATE.format(name=gate.name, detail=answer.detail or "no reason given")
            plan = rollback(plan, ctx, Reason.ROLLBACK_GATE, why)
    return plan


def tell_post_rollout(plan: Plan, ctx: Context) -> Plan:
    """A rollout that ended in this decision (promoted, rolled back, aborted, judged) is told to post-rollout gates."""
    before, after = ctx.rollout.status, plan.status
    if before.candidate_revision is None or after.candidate_revision is not None:
        return plan
    outcome = after.reason or ""
    tell = [TellGate(gate=gate, revision=before.candidate_revision, outcome=outcome) for gate in _gates(ctx.spec, GateType.POST_ROLLOUT)]
    return plan.act(*tell)


def _gates(spec: ModelRolloutSpec, kind: GateType) -> list[WebhookGate]:
    return [gate for gate in spec.webhooks or [] if gate.type is kind]


def _waiting(status: ModelRolloutStatus, spec: ModelRolloutSpec, step: Step | None) -> list[WebhookGate]:
    """The holding gates not yet passed at this point, of the first kind that has any."""
    if status.current_step == 0:
        kinds: tuple[GateType, ...] = _BEFORE_FIRST_STEP
    elif isinstance(step, Promote):
        kinds = (GateType.CONFIRM_PROMOTION,)
    else:
        return []
    for kind in kinds:
        waiting = [gate for gate in _gates(spec, kind) if not _passed(status, gate)]
        if waiting:
            return waiting
    return []


def _tally(status: ModelRolloutStatus, name: str) -> MetricTally | None:
    return next((t for t in status.tallies if (t.metric, t.scope) == (name, GATE_SCOPE)), None)


def _passed(status: ModelRolloutStatus, gate: WebhookGate) -> bool:
    tally = _tally(status, gate.name)
    return tally is not None and tally.passed > 0


def _rollback_due(status: ModelRolloutStatus, gate: WebhookGate, now: datetime) -> bool:
    tally = _tally(status, gate.name)
    last = tally.last_measured_at if tally is not None else None
    return last is None or now - last >= timedelta(seconds=gate.interval)


def _last_answer(status: ModelRolloutStatus, gates: list[WebhookGate]) -> str | None:
    names = {gate.name for gate in gates}
    last = next((r for r in reversed(status.evidence) if r.scope == GATE_SCOPE and r.metric in names), None)
    return f"{last.metric} said {last.reason}" if last is not None else None


def _record(plan: Plan, ctx: Context, gate: WebhookGate, answer: GateAnswer) -> Plan:
    status = plan.status
    old = _tally(status, gate.name) or MetricTally(metric=gate.name, scope=GATE_SCOPE)
    tally = old.model_copy(update={
        "passed": old.passed + (answer.yes and answer.error is None),
        "failed": old.failed + (not answer.yes and answer.error is None),
        "errors": old.errors + (answer.error is not None),
        "last_measured_at": ctx.now,
    })  # fmt: skip
    tallies = [t for t in status.tallies if (t.metric, t.scope) != (gate.name, GATE_SCOPE)] + [tally]
    record = AnalysisRecord(
        metric=gate.name,
        scope=GATE_SCOPE,
        revision=str(status.candidate_revision),
        verdict=_verdict(gate, answer),
        reason=_reason(gate, answer),
        time=ctx.now,
    )
    return plan.update(tallies=tallies, evidence=[*status.evidence, record][-EVIDENCE_LIMIT:])


def _verdict(gate: WebhookGate, answer: GateAnswer) -> Verdict:
    """The candidate's verdict: a holding gate's yes passes it; a rollback gate's yes fails it."""
    if answer.error is not None:
        return Verdict.ERROR
    return Verdict.FAILED if answer.yes == (gate.type is GateType.ROLLBACK) else Verdict.PASSED


def _reason(gate: WebhookGate, answer: GateAnswer) -> str:
    said = answer.error if answer.error is not None else ("yes" if answer.yes else "no")
    detail = f": {answer.detail}" if answer.detail and answer.error is None else ""
    return f"{gate.type.value} gate {said}{detail}"
